//! Routes: stored in order, only over the company's own accounts, read by the send service's
//! `Routing` (a company without routes sends through its first enabled account), and
//! recorded on each message.

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{Store, StoreError};

use crate::helpers::{TestDb, company, simulator_account};
use crate::messages::{funded, msg};

crate::store_tests!(
    routes_are_kept_in_order_and_replaced_whole,
    a_route_names_only_the_companys_own_accounts,
    routing_picks_by_route_and_falls_back_to_the_first_account,
    a_deleted_account_leaves_its_routes_without_it,
    messages_record_their_route,
    route_writes_are_seen_by_the_send_service_at_once,
    queued_messages_of_a_route_move_to_another_account,
);

fn new_route(position: u32, zone: Option<&str>, targets: &[ProviderAccountId]) -> NewRoute {
    NewRoute::new(RouteDraft {
        position,
        zone: zone.map(Into::into),
        targets: targets
            .iter()
            .map(|a| RouteTargetDraft {
                account_id: a.0,
                weight: Some(2),
            })
            .collect(),
        ..RouteDraft::default()
    })
    .unwrap()
}

fn phone(e164: &str) -> Recipient {
    Recipient::Msisdn(ulak_core::Msisdn::from_e164(e164).unwrap())
}

async fn routes_are_kept_in_order_and_replaced_whole(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let a = simulator_account(s, c, "a").await;
    let b = simulator_account(s, c, "b").await;
    let late = s.create_route(c, new_route(20, None, &[a])).await.unwrap();
    let early = s
        .create_route(c, new_route(10, Some("kktc"), &[b, a]))
        .await
        .unwrap();
    let tie = s.create_route(c, new_route(20, None, &[b])).await.unwrap();
    assert_eq!(early.matches.zone, Some(RouteZone::Kktc));
    assert_eq!(
        early.targets,
        vec![
            RouteTarget {
                account: b,
                weight: 2
            },
            RouteTarget {
                account: a,
                weight: 2
            }
        ]
    );
    let ids: Vec<RouteId> = s
        .list_routes(c)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![early.id, late.id, tie.id]);

    let changed = s
        .update_route(c, late.id, new_route(5, Some("az"), &[b]))
        .await
        .unwrap();
    assert_eq!(changed.position, 5);
    assert_eq!(changed.matches.zone, Some(RouteZone::Az));
    assert_eq!(changed.targets.len(), 1);
    assert_eq!(s.get_route(c, late.id).await.unwrap(), Some(changed));
    let ids: Vec<RouteId> = s
        .list_routes(c)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![late.id, early.id, tie.id]);

    s.delete_route(c, early.id).await.unwrap();
    assert!(s.get_route(c, early.id).await.unwrap().is_none());
    assert!(matches!(
        s.delete_route(c, early.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.list_routes(c).await.unwrap().len(), 2);
}

async fn a_route_names_only_the_companys_own_accounts(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let mine = simulator_account(s, c, "mine").await;
    let theirs = simulator_account(s, other, "theirs").await;
    let unknown_target = |r: Result<Route, StoreError>, field: &str| match r {
        Err(StoreError::Validation(e)) => {
            assert_eq!(e.0.len(), 1, "{e}");
            assert_eq!(e.0[0].field, field);
            assert_eq!(e.0[0].code, ulak_core::Code::ValueUnknown);
        }
        other => panic!("expected a field error, got {other:?}"),
    };
    unknown_target(
        s.create_route(c, new_route(1, None, &[mine, theirs])).await,
        "targets[1].account_id",
    );
    unknown_target(
        s.create_route(c, new_route(1, None, &[ProviderAccountId(999_999)]))
            .await,
        "targets[0].account_id",
    );
    assert!(s.list_routes(c).await.unwrap().is_empty());

    let r = s
        .create_route(c, new_route(1, None, &[mine]))
        .await
        .unwrap();
    unknown_target(
        s.update_route(c, r.id, new_route(1, None, &[theirs])).await,
        "targets[0].account_id",
    );
    assert_eq!(
        s.get_route(c, r.id).await.unwrap().unwrap().targets[0].account,
        mine
    );
    // Another company's route is not there for this one.
    assert!(s.get_route(other, r.id).await.unwrap().is_none());
    assert!(matches!(
        s.update_route(other, r.id, new_route(1, None, &[theirs]))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_route(other, r.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.list_routes(other).await.unwrap().is_empty());
}

async fn routing_picks_by_route_and_falls_back_to_the_first_account(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    assert!(
        s.routing(c)
            .await
            .unwrap()
            .pick(&phone("+905321234567"), TrafficClass::Transactional, |_| {
                false
            })
            .is_none()
    );
    let first = simulator_account(s, c, "first").await;
    let kktc = simulator_account(s, c, "kktc").await;
    let tr = phone("+905321234567");
    let cy = phone("+905338401234");
    let class = TrafficClass::Transactional;
    // No routes: everything through the first enabled account, as before routes.
    let routing = s.routing(c).await.unwrap();
    for to in [&tr, &cy] {
        let (route, account) = routing.pick(to, class, |_| false).unwrap();
        assert_eq!((route, account.id), (None, first));
    }
    let r = s
        .create_route(c, new_route(1, Some("kktc"), &[kktc]))
        .await
        .unwrap();
    let routing = s.routing(c).await.unwrap();
    let (route, account) = routing.pick(&cy, class, |_| false).unwrap();
    assert_eq!((route, account.id), (Some(r.id), kktc));
    // No route fits: the first account.
    let (route, account) = routing.pick(&tr, class, |_| false).unwrap();
    assert_eq!((route, account.id), (None, first));
    // The route's account is down: passed over.
    let (route, account) = routing.pick(&cy, class, |a| a == kktc).unwrap();
    assert_eq!((route, account.id), (None, first));
}

async fn a_deleted_account_leaves_its_routes_without_it(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let a = simulator_account(s, c, "a").await;
    let b = simulator_account(s, c, "b").await;
    let r = s
        .create_route(c, new_route(1, None, &[a, b]))
        .await
        .unwrap();
    s.delete_provider_account(c, a).await.unwrap();
    let left = s.get_route(c, r.id).await.unwrap().unwrap();
    assert_eq!(
        left.targets.iter().map(|t| t.account).collect::<Vec<_>>(),
        vec![b]
    );
    assert_eq!(s.routes_through(b).await.unwrap().len(), 1);
    assert!(s.routes_through(a).await.unwrap().is_empty());
}

async fn messages_record_their_route(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let r = s.create_route(c, new_route(1, None, &[p])).await.unwrap();
    let routed = msg(p, "05321234567", "Merhaba").routed(Some(r.id));
    let m = s.enqueue_message(c, routed, None).await.unwrap().message;
    assert_eq!(m.route_id, Some(r.id));
    let stored = s.get_message(c, m.id).await.unwrap().unwrap().message;
    assert_eq!(
        (stored.provider_account_id, stored.route_id),
        (Some(p), Some(r.id))
    );
    let plain = s
        .enqueue_message(c, msg(p, "05321234568", "Merhaba"), None)
        .await
        .unwrap()
        .message;
    let stored = s.get_message(c, plain.id).await.unwrap().unwrap().message;
    assert_eq!(
        (stored.provider_account_id, stored.route_id),
        (Some(p), None)
    );
    // A batch (the campaign and bulk path) records it too.
    let ids = s
        .enqueue_batch(
            c,
            None,
            &[msg(p, "05321234569", "Toplu").routed(Some(r.id))],
        )
        .await
        .unwrap();
    let stored = s.get_message(c, ids[0]).await.unwrap().unwrap().message;
    assert_eq!(stored.route_id, Some(r.id));
}

async fn route_writes_are_seen_by_the_send_service_at_once(db: &TestDb) {
    let s: &Store = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let a = simulator_account(s, c, "a").await;
    assert!(s.sending_routing(c).await.unwrap().routes.is_empty());
    let r = s.create_route(c, new_route(1, None, &[a])).await.unwrap();
    assert_eq!(s.sending_routing(c).await.unwrap().routes.len(), 1);
    s.delete_route(c, r.id).await.unwrap();
    assert!(s.sending_routing(c).await.unwrap().routes.is_empty());
}

async fn queued_messages_of_a_route_move_to_another_account(db: &TestDb) {
    let s = &db.store;
    let (c, a) = funded(s, 100).await;
    let b = simulator_account(s, c, "b").await;
    let r = s
        .create_route(c, new_route(1, None, &[a, b]))
        .await
        .unwrap();
    let mut routed = Vec::new();
    for i in 0..4 {
        let m = msg(a, &format!("0532123450{i}"), "Merhaba").routed(Some(r.id));
        routed.push(s.enqueue_message(c, m, None).await.unwrap().message.id);
    }
    let unrouted = s
        .enqueue_message(c, msg(a, "05321234599", "Merhaba"), None)
        .await
        .unwrap()
        .message
        .id;
    // One is being submitted (leased): it stays with its account.
    let claimed = s.claim_messages(a, "node", 1, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, routed[0]);

    let moved = s
        .move_queued(a, r.id, b, "account a is down")
        .await
        .unwrap();
    assert_eq!(moved, routed[1..].to_vec());
    for id in &routed[1..] {
        let d = s.get_message(c, *id).await.unwrap().unwrap();
        assert_eq!(d.message.provider_account_id, Some(b));
        assert_eq!(d.message.route_id, Some(r.id));
        assert_eq!(d.message.state, MessageState::Queued);
        let why = d.events.iter().find_map(|e| e.detail.clone()).unwrap();
        assert!(
            why.contains("moved from provider account") && why.contains("down"),
            "{why}"
        );
    }
    for id in [routed[0], unrouted] {
        let m = s.get_message(c, id).await.unwrap().unwrap().message;
        assert_eq!(m.provider_account_id, Some(a));
    }
    // Account b's worker takes them now; nothing is left to move.
    let taken = s.claim_messages(b, "node", 10, 60_000).await.unwrap();
    assert_eq!(taken.len(), 3);
    assert!(s.move_queued(a, r.id, b, "again").await.unwrap().is_empty());
}
