use std::collections::{HashMap, HashSet};

use super::*;
use crate::{Msisdn, Tckn};

fn phone(e164: &str) -> Recipient {
    Recipient::Msisdn(Msisdn::from_e164(e164).expect("test number"))
}

fn tckn() -> Recipient {
    Recipient::Tckn(Tckn::parse("12345678950").expect("test TC ID number"))
}

const TR: &str = "+905321234567";
const TR_OTHER_OPERATOR: &str = "+905421234567";
const KKTC: &str = "+905338401234";
const AZ: &str = "+994501234567";

fn route(id: i64, m: RouteMatch, targets: &[(i64, u32)]) -> Route {
    Route {
        id: RouteId(id),
        company_id: CompanyId(1),
        position: u32::try_from(id).unwrap_or(0),
        matches: m,
        targets: targets
            .iter()
            .map(|&(a, weight)| RouteTarget {
                account: ProviderAccountId(a),
                weight,
            })
            .collect(),
        created_at: 0,
        updated_at: 0,
    }
}

/// Routes 1..=5, each to an account of the same number, the last matching everything.
fn table() -> Vec<Route> {
    vec![
        route(
            1,
            RouteMatch {
                class: Some(TrafficClass::Otp),
                ..RouteMatch::default()
            },
            &[(1, 1)],
        ),
        route(
            2,
            RouteMatch {
                recipient_kind: Some(RouteRecipient::Tckn),
                ..RouteMatch::default()
            },
            &[(2, 1)],
        ),
        route(
            3,
            RouteMatch {
                zone: Some(RouteZone::Kktc),
                ..RouteMatch::default()
            },
            &[(3, 1)],
        ),
        route(
            4,
            RouteMatch {
                prefix: Some("90542".into()),
                class: Some(TrafficClass::Campaign),
                ..RouteMatch::default()
            },
            &[(4, 1)],
        ),
        route(5, RouteMatch::default(), &[(5, 1)]),
    ]
}

#[test]
fn routes_by_kind_zone_prefix_and_class() {
    use TrafficClass::{Campaign, Otp, Transactional};
    let cases: &[(Recipient, TrafficClass, i64)] = &[
        (phone(TR), Otp, 1),
        (tckn(), Otp, 1),
        (tckn(), Transactional, 2),
        (tckn(), Campaign, 2),
        (phone(KKTC), Transactional, 3),
        (phone(KKTC), Campaign, 3),
        (phone(TR_OTHER_OPERATOR), Campaign, 4),
        (phone(TR_OTHER_OPERATOR), Transactional, 5),
        (phone(TR), Campaign, 5),
        (phone(AZ), Transactional, 5),
    ];
    let routes = table();
    for (to, class, want) in cases {
        let got = choose(&routes, to, *class, |_| false, 7).expect("a route fits");
        assert_eq!(got.route, RouteId(*want), "{} {class:?}", to.kind());
        assert_eq!(got.account, ProviderAccountId(*want));
    }
}

#[test]
fn zones_of_recipients() {
    assert_eq!(RouteZone::of(&phone(TR)), RouteZone::Tr);
    assert_eq!(RouteZone::of(&phone(KKTC)), RouteZone::Kktc);
    assert_eq!(RouteZone::of(&phone(AZ)), RouteZone::Az);
    assert_eq!(RouteZone::of(&tckn()), RouteZone::Tr);
}

#[test]
fn a_prefix_never_matches_a_tc_id_number() {
    let m = RouteMatch {
        prefix: Some("1".into()),
        ..RouteMatch::default()
    };
    assert!(!m.fits(&tckn(), TrafficClass::Transactional));
    assert!(!m.fits(&phone(TR), TrafficClass::Transactional));
    let m = RouteMatch {
        prefix: Some("994".into()),
        ..RouteMatch::default()
    };
    assert!(m.fits(&phone(AZ), TrafficClass::Transactional));
}

#[test]
fn targets_share_by_weight() {
    let routes = vec![route(1, RouteMatch::default(), &[(1, 1), (2, 3)])];
    let mut counts: HashMap<ProviderAccountId, u32> = HashMap::new();
    for seed in 0..40_000u64 {
        let c = choose(&routes, &phone(TR), TrafficClass::Campaign, |_| false, seed).expect("fits");
        *counts.entry(c.account).or_default() += 1;
    }
    let one = counts[&ProviderAccountId(1)];
    let two = counts[&ProviderAccountId(2)];
    assert_eq!(one + two, 40_000);
    // 1 : 3 within a few percent.
    assert!((9_000..11_000).contains(&one), "{one} of 40,000");
}

#[test]
fn down_accounts_are_passed_over() {
    let routes = vec![
        route(1, RouteMatch::default(), &[(1, 5), (2, 1)]),
        route(2, RouteMatch::default(), &[(3, 1)]),
    ];
    let to = phone(TR);
    let class = TrafficClass::Transactional;
    for seed in 0..100 {
        let down: HashSet<i64> = [1].into();
        let c = choose(&routes, &to, class, |a| down.contains(&a.0), seed).expect("fits");
        assert_eq!((c.route, c.account), (RouteId(1), ProviderAccountId(2)));
    }
    // Every target of the first route down: the next route that fits.
    let down: HashSet<i64> = [1, 2].into();
    let c = choose(&routes, &to, class, |a| down.contains(&a.0), 3).expect("fits");
    assert_eq!((c.route, c.account), (RouteId(2), ProviderAccountId(3)));
    // Everything down, or nothing fits: none.
    assert_eq!(choose(&routes, &to, class, |_| true, 3), None);
    assert_eq!(choose(&[], &to, class, |_| false, 3), None);
    let otp_only = vec![route(
        1,
        RouteMatch {
            class: Some(TrafficClass::Otp),
            ..RouteMatch::default()
        },
        &[(1, 1)],
    )];
    assert_eq!(choose(&otp_only, &to, class, |_| false, 3), None);
}

#[test]
fn the_same_recipient_gets_the_same_account() {
    let routes = vec![route(1, RouteMatch::default(), &[(1, 1), (2, 1)])];
    let to = phone(TR);
    let seed = route_seed(&to);
    let first = choose(&routes, &to, TrafficClass::Campaign, |_| false, seed);
    for _ in 0..10 {
        let again = choose(
            &routes,
            &to,
            TrafficClass::Campaign,
            |_| false,
            route_seed(&to),
        );
        assert_eq!(again, first);
    }
    assert_ne!(route_seed(&phone(TR)), route_seed(&phone(AZ)));
}

#[test]
fn failover_moves_to_the_next_live_account() {
    let r = route(1, RouteMatch::default(), &[(1, 1), (2, 1), (3, 1)]);
    assert_eq!(
        failover_target(&r, ProviderAccountId(1), |_| false),
        Some(ProviderAccountId(2))
    );
    assert_eq!(
        failover_target(&r, ProviderAccountId(3), |_| false),
        Some(ProviderAccountId(1))
    );
    assert_eq!(
        failover_target(&r, ProviderAccountId(1), |a| a.0 == 2),
        Some(ProviderAccountId(3))
    );
    assert_eq!(
        failover_target(&r, ProviderAccountId(1), |a| a.0 != 1),
        None
    );
    assert_eq!(failover_target(&r, ProviderAccountId(9), |_| false), None);
    let single = route(2, RouteMatch::default(), &[(1, 1)]);
    assert_eq!(
        failover_target(&single, ProviderAccountId(1), |_| false),
        None
    );
}

fn draft(targets: &[(i64, Option<u32>)]) -> RouteDraft {
    RouteDraft {
        targets: targets
            .iter()
            .map(|&(account_id, weight)| RouteTargetDraft { account_id, weight })
            .collect(),
        ..RouteDraft::default()
    }
}

fn codes(d: RouteDraft) -> Vec<(String, Code)> {
    match NewRoute::new(d) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.into_iter().map(|f| (f.field, f.code)).collect(),
    }
}

#[test]
fn drafts_are_checked_field_by_field() {
    let ok = NewRoute::new(RouteDraft {
        position: 10,
        recipient_kind: Some("msisdn".into()),
        zone: Some("kktc".into()),
        prefix: Some("90533".into()),
        class: Some("otp".into()),
        targets: draft(&[(1, None), (2, Some(1000))]).targets,
    })
    .expect("valid");
    assert_eq!(ok.matches.zone, Some(RouteZone::Kktc));
    assert_eq!(ok.targets[0].weight, 1);

    let f = |s: &str, c: Code| vec![(s.to_owned(), c)];
    assert_eq!(codes(draft(&[])), f("targets", Code::ValueEmpty));
    let nine: Vec<(i64, Option<u32>)> = (1..=9).map(|a| (a, None)).collect();
    assert_eq!(codes(draft(&nine)), f("targets", Code::ValueTooMany));
    assert_eq!(
        codes(draft(&[(1, Some(0))])),
        f("targets[0].weight", Code::ValueOutOfRange)
    );
    assert_eq!(
        codes(draft(&[(1, Some(1001))])),
        f("targets[0].weight", Code::ValueOutOfRange)
    );
    assert_eq!(
        codes(draft(&[(1, None), (1, None)])),
        f("targets[1].account_id", Code::ValueDuplicate)
    );
    assert_eq!(
        codes(draft(&[(0, None)])),
        f("targets[0].account_id", Code::ValueUnknown)
    );
    for bad in ["", "0090", "+90", "90 5", "1234567890123456", "٩٠"] {
        let d = RouteDraft {
            prefix: Some(bad.into()),
            ..draft(&[(1, None)])
        };
        assert_eq!(codes(d), f("prefix", Code::ValueInvalid), "{bad:?}");
    }
    let d = RouteDraft {
        position: MAX_ROUTE_POSITION + 1,
        recipient_kind: Some("phone".into()),
        zone: Some("TR".into()),
        class: Some("bulk".into()),
        ..draft(&[(1, None)])
    };
    let got: Vec<String> = codes(d).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, ["position", "recipient_kind", "zone", "class"]);
}
