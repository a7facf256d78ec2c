//! Rules of the input types, one failure per case.

#![allow(clippy::unwrap_used)]

use crate::Code;
use std::collections::BTreeMap;

use super::*;
use crate::net::OutboundPolicy;

fn fields(e: &ValidationErrors) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

#[test]
fn new_subscriber_reports_every_bad_field() {
    let mut attrs = BTreeMap::new();
    attrs.insert("bad key".to_owned(), "v".to_owned());
    let e = NewSubscriber::new(
        " ",
        "0212 123 45 67",
        CountryType::Tr,
        Some("12345678901"),
        attrs,
        Consent::Unknown,
    )
    .unwrap_err();
    assert_eq!(fields(&e), ["name", "phone", "tckn", "attributes.bad key"]);
    assert_eq!(e.0[1].code, Code::PhoneLandline);
    // Messages never echo the personal value.
    assert!(e.0.iter().all(|f| !f.message.contains("123")));
}

#[test]
fn national_numbers_follow_the_company_country() {
    let s = NewSubscriber::new(
        "A",
        "050 123 45 67",
        CountryType::Az,
        None,
        BTreeMap::new(),
        Consent::Unknown,
    )
    .unwrap();
    assert_eq!(s.phone.e164(), "+994501234567");
    // An explicit country code wins over the company's country.
    let s = NewSubscriber::new(
        "A",
        "+90 532 123 45 67",
        CountryType::Az,
        None,
        BTreeMap::new(),
        Consent::Unknown,
    )
    .unwrap();
    assert_eq!(s.phone.e164(), "+905321234567");
}

#[test]
fn list_query_limits_and_cursor() {
    assert_eq!(ListQuery::default().effective_limit(), 50);
    let q = ListQuery {
        limit: Some(10_000),
        ..ListQuery::default()
    };
    assert_eq!(q.effective_limit(), MAX_LIMIT);
    let q = ListQuery {
        limit: Some(0),
        ..ListQuery::default()
    };
    assert_eq!(q.effective_limit(), 1);
    let q = ListQuery {
        cursor: Some(encode_cursor(12345)),
        ..ListQuery::default()
    };
    assert_eq!(q.after_id().unwrap(), Some(12345));
    for bad in [
        "12",
        "c",
        "cxyz",
        "c-1",
        "",
        "c+1",
        "cABC",
        "c8000000000000000",
    ] {
        let q = ListQuery {
            cursor: Some(bad.into()),
            ..ListQuery::default()
        };
        assert_eq!(fields(&q.after_id().unwrap_err()), ["cursor"]);
    }
}

#[test]
fn turkish_folding() {
    assert_eq!(fold("IŞIK İLKER"), "ışık ilker");
    let q = ListQuery {
        search: Some("  ÇAĞRI ".into()),
        ..ListQuery::default()
    };
    assert_eq!(q.search_key().as_deref(), Some("cagri"));
    assert_eq!(search_fold("IŞIK Şölen Üç"), "isik solen uc");
}

#[test]
fn sender_names() {
    assert!(SenderName::parse("ULAK A.S.").is_ok());
    assert_eq!(
        SenderName::parse("ULAK A.Ş.").unwrap_err().code,
        Code::SenderTurkishLetter
    );
    assert_eq!(
        SenderName::parse("ABCDEFGHIJKL").unwrap_err().code,
        Code::SenderTooLong
    );
    assert_eq!(
        SenderName::parse("ULAK!").unwrap_err().code,
        Code::SenderInvalidCharacter
    );
    assert!(SenderName::parse("905321234567").unwrap().is_numeric());
    assert_eq!(
        SenderName::parse("12").unwrap_err().code,
        Code::SenderNumericLength
    );
}

#[test]
fn users_and_companies() {
    let e = NewUser::new(
        "a b",
        "short",
        None,
        Some("0532"),
        Some("x@y"),
        Role::Viewer,
        CountryType::Tr,
    )
    .unwrap_err();
    assert_eq!(fields(&e), ["login", "password", "phone", "email"]);
    let c = NewCompany::new(" Acme-1 ", "Acme A.Ş.", CountryType::Kktc).unwrap();
    assert_eq!(c.name.as_str(), "acme-1");
    assert_eq!(
        fields(&NewCompany::new("-x", "", CountryType::Tr).unwrap_err()),
        ["name", "display_name"]
    );
    assert_eq!(
        format!("{:?}", Password::parse("gizli-parola").unwrap()),
        "Password(***)"
    );
    assert_eq!("operator".parse::<Role>().unwrap(), Role::Operator);
}

#[test]
fn credit_signs() {
    assert!(NewCreditEntry::new(LedgerKind::Purchase, 1, None).is_ok());
    assert!(NewCreditEntry::new(LedgerKind::Purchase, 0, None).is_err());
    assert!(NewCreditEntry::new(LedgerKind::Charge, 5, None).is_err());
    assert!(NewCreditEntry::new(LedgerKind::Adjustment, -5, None).is_ok());
    assert!(NewCreditEntry::new(LedgerKind::Adjustment, 0, None).is_err());
    // i64::MIN has no negation: it could not be checked against the balance.
    let e = NewCreditEntry::new(LedgerKind::Adjustment, i64::MIN, None).unwrap_err();
    assert_eq!(
        (fields(&e), e.0[0].code),
        (vec!["amount"], Code::ValueOutOfRange)
    );
    assert!(NewCreditEntry::new(LedgerKind::Charge, i64::MIN, None).is_err());
    assert!(NewCreditEntry::new(LedgerKind::Adjustment, -i64::MAX, None).is_ok());
    assert!(NewCreditEntry::new(LedgerKind::Purchase, i64::MAX, None).is_ok());
}

#[test]
fn schedules_and_validity_are_bounded_and_expiry_never_overflows() {
    let now = 1_800_000_000_000;
    assert_eq!(check_schedule(now, now), Ok(now));
    assert!(check_schedule(now - SCHEDULE_SKEW_MS, now).is_ok());
    assert!(check_schedule(now + MAX_SCHEDULE_AHEAD_MS, now).is_ok());
    for bad in [
        i64::MAX,
        i64::MIN,
        now + MAX_SCHEDULE_AHEAD_MS + 1,
        now - SCHEDULE_SKEW_MS - 1,
        0,
        -1,
    ] {
        assert_eq!(
            check_schedule(bad, now).unwrap_err().code,
            Code::ScheduleOutOfRange,
            "{bad}"
        );
    }
    assert_eq!(check_validity(None), Ok(DEFAULT_VALIDITY_S));
    assert_eq!(check_validity(Some(60)), Ok(60));
    assert_eq!(check_validity(Some(MAX_VALIDITY_S)), Ok(MAX_VALIDITY_S));
    for bad in [0, 59, MAX_VALIDITY_S + 1, u64::MAX] {
        assert!(check_validity(Some(bad)).is_err(), "{bad}");
    }
    assert_eq!(valid_until(None, now, 60), Some(now + 60_000));
    assert_eq!(
        valid_until(Some(now - 5), now, 60),
        Some(now + 60_000),
        "never before now"
    );
    assert_eq!(valid_until(Some(now + 10), now, 1), Some(now + 1010));
    assert_eq!(valid_until(Some(i64::MAX), now, 86_400), None);
    assert_eq!(valid_until(Some(i64::MAX - 999), now, 1), None);
    assert_eq!(valid_until(None, now, i64::MAX), None);
    assert_eq!(valid_until(None, now, -1), None);
}

#[test]
fn provider_defaults_follow_country() {
    let strict = OutboundPolicy::default();
    let d = ProviderAccountDraft {
        name: "sim".into(),
        kind: "simulator".into(),
        host: "127.0.0.1".into(),
        port: 2775,
        system_id: "u".into(),
        ..ProviderAccountDraft::default()
    };
    let tr = NewProviderAccount::new(d.clone(), CountryType::Tr, &strict).unwrap();
    assert_eq!(tr.text_policy, ulak_text::Policy::TurkishShift);
    let az = NewProviderAccount::new(d.clone(), CountryType::Az, &strict).unwrap();
    assert_eq!(az.text_policy, ulak_text::Policy::Gsm7OrUcs2);
    let bad = ProviderAccountDraft {
        port: 0,
        system_id: "x".repeat(16),
        text_policy: Some("utf8".into()),
        ..d
    };
    assert_eq!(
        fields(&NewProviderAccount::new(bad, CountryType::Tr, &strict).unwrap_err()),
        ["port", "system_id", "text_policy"]
    );
}

#[test]
fn attributes_are_bounded_in_count_length_and_total_size() {
    let set = |n: usize, len: usize| -> BTreeMap<String, String> {
        (0..n).map(|i| (format!("a{i}"), "ş".repeat(len))).collect()
    };
    let codes = |m| Attributes::new(m).unwrap_err().0;
    // Too many: one error for the set, however many there are.
    let e = codes(set(20_000, 1));
    assert_eq!(
        (e.len(), e[0].field.as_str(), e[0].code),
        (1, "attributes", Code::ValueTooMany)
    );
    assert!(Attributes::new(set(MAX_ATTRIBUTES, 1)).is_ok());
    // Values are counted in characters, the total in bytes (ş is two).
    assert!(Attributes::new(set(1, MAX_ATTRIBUTE_VALUE_CHARS)).is_ok());
    let e = codes(set(1, MAX_ATTRIBUTE_VALUE_CHARS + 1));
    assert_eq!(
        (e[0].field.as_str(), e[0].code),
        ("attributes.a0", Code::ValueTooLong)
    );
    let e = codes(set(9, 1000));
    assert_eq!((e.len(), e[0].code), (1, Code::ValueTooLarge));
    // A long key is named, cut short.
    let long: BTreeMap<String, String> = [("k".repeat(10_000), "v".to_owned())].into();
    let e = codes(long);
    assert_eq!(e[0].code, Code::AttributeNameInvalid);
    assert!(e[0].field.len() < 100, "{}", e[0].field);
}

#[test]
fn a_customer_account_has_at_most_twenty_phones() {
    let phones: Vec<String> = (0..=MAX_PHONES)
        .map(|i| format!("05321234{i:03}"))
        .collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let new = |p: &[&str]| {
        NewCustomerAccount::new(
            "C",
            "T",
            CustomerKind::Customer,
            p,
            CountryType::Tr,
            0,
            BTreeMap::new(),
        )
    };
    let e = new(&refs).unwrap_err();
    assert_eq!(fields(&e), ["phones"]);
    assert_eq!(e.0[0].code, Code::ValueTooMany);
    assert!(new(&refs[..MAX_PHONES]).is_ok());
}

/// An operator account's host may not be a loopback, private, link-local or other special
/// address in any notation unless the policy allows it; the simulator's host is not used.
#[test]
fn provider_hosts_must_be_allowed_targets() {
    let strict = OutboundPolicy::default();
    let draft = |host: &str| ProviderAccountDraft {
        name: "op".into(),
        kind: "smpp".into(),
        host: host.into(),
        port: 2775,
        system_id: "u".into(),
        ..ProviderAccountDraft::default()
    };
    for host in [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "localhost",
        "10.0.0.5",
        "192.168.0.10",
        "172.20.1.1",
        "100.100.100.200",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "[::1]",
        "::ffff:10.0.0.5",
        "fd00::5",
        "fe80::1",
    ] {
        let e = NewProviderAccount::new(draft(host), CountryType::Tr, &strict).unwrap_err();
        assert_eq!(fields(&e), ["host"], "{host}");
        assert_eq!(e.0[0].code, Code::UrlTargetNotAllowed, "{host}");
        assert!(
            NewProviderAccount::new(draft(host), CountryType::Tr, &OutboundPolicy::any()).is_ok(),
            "allowed by configuration: {host}"
        );
    }
    for host in ["smpp.operator.com.tr", "185.60.216.35", "2a00:1450::1"] {
        assert!(
            NewProviderAccount::new(draft(host), CountryType::Tr, &strict).is_ok(),
            "{host}"
        );
    }
    let sim = ProviderAccountDraft {
        kind: "simulator".into(),
        ..draft("127.0.0.1")
    };
    assert!(NewProviderAccount::new(sim, CountryType::Tr, &strict).is_ok());
}

#[test]
fn control_characters_are_refused_in_every_kind_of_field() {
    use super::validation::{check_controls, text};
    for c in ['\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
        let s = format!("a{c}b");
        assert_eq!(
            check_controls(&s, Lines::One).unwrap_err().code,
            Code::ValueControlCharacter
        );
        assert_eq!(
            check_controls(&s, Lines::Many).unwrap_err().code,
            Code::ValueControlCharacter
        );
        assert!(TemplateBody::parse(&s).is_err());
    }
    for c in ['\t', '\n', '\r'] {
        let s = format!("a{c}b");
        assert!(check_controls(&s, Lines::One).is_err());
        assert!(check_controls(&s, Lines::Many).is_ok());
        assert!(TemplateBody::parse(&s).is_ok());
    }
    // Everywhere in the value, surrounding spaces included; other characters are fine.
    assert!(text("ad\t", 10).is_err());
    assert_eq!(text("  Ayşe  ", 10).unwrap(), "Ayşe");
    assert!(check_controls("Ayşe \u{200b} 😀", Lines::One).is_ok());
}

#[test]
fn maxima_count_characters_as_given() {
    use super::validation::text;
    assert!(
        text(
            &"ş".repeat(limits::SUBSCRIBER_NAME),
            limits::SUBSCRIBER_NAME
        )
        .is_ok()
    );
    let over = format!("{} ", "ş".repeat(limits::SUBSCRIBER_NAME));
    assert_eq!(
        text(&over, limits::SUBSCRIBER_NAME).unwrap_err().code,
        Code::ValueTooLong
    );
    let q = ListQuery::parse(None, None, Some("a".repeat(limits::SEARCH + 1)), None);
    assert_eq!(fields(&q.unwrap_err()), ["search"]);
    // The largest cursor is i64::MAX; one more, or a 17th digit, is not one.
    let max = encode_cursor(i64::MAX);
    assert!(ListQuery::parse(Some(500), Some(max.clone()), None, None).is_ok());
    assert!(ListQuery::parse(None, Some(format!("{max}f")), None, None).is_err());
    assert!(ListQuery::parse(None, Some("c8000000000000000".into()), None, None).is_err());
    assert!(ListQuery::parse(Some(501), None, None, None).is_err());
}

#[test]
fn a_bracketed_webhook_host_ends_at_its_bracket() {
    assert!(parse_webhook_url("https://[::1]/h", &OutboundPolicy::any()).is_ok());
    assert!(parse_webhook_url("https://[::1]:8443/h", &OutboundPolicy::any()).is_ok());
    for bad in [
        "https://[::1]x/h",
        "https://[::1]*",
        "https://[::1",
        "https://[]:80/",
    ] {
        assert!(
            parse_webhook_url(bad, &OutboundPolicy::any()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn alphanumeric_senders_have_a_letter() {
    assert_eq!(
        SenderName::parse("12-34").unwrap_err().code,
        Code::SenderNoLetter
    );
    assert!(SenderName::parse(" A-1 ").is_ok());
    assert!(SenderName::parse("1234").is_ok());
}

/// Every (from, to) pair of message states, written out as the allowed targets of each.
#[test]
fn the_message_transition_table() {
    use MessageState as S;
    let table: [(S, &[S]); 12] = [
        (
            S::Scheduled,
            &[S::Queued, S::Expired, S::Cancelled, S::Skipped],
        ),
        (
            S::Queued,
            &[S::Sending, S::Expired, S::Cancelled, S::Skipped],
        ),
        (S::Sending, &[S::Submitted, S::Queued, S::Failed]),
        (
            S::Submitted,
            &[
                S::Delivered,
                S::Undeliverable,
                S::Expired,
                S::Rejected,
                S::Unknown,
            ],
        ),
        (S::Delivered, &[]),
        (S::Undeliverable, &[]),
        (S::Expired, &[]),
        (S::Rejected, &[]),
        (S::Unknown, &[]),
        (S::Failed, &[]),
        (S::Cancelled, &[]),
        (S::Skipped, &[]),
    ];
    for (from, allowed) in table {
        for to in S::ALL {
            assert_eq!(from.may_become(to), allowed.contains(&to), "{from} -> {to}");
        }
        // A state is final exactly when it goes nowhere.
        assert_eq!(from.is_final(), allowed.is_empty(), "{from}");
        assert_eq!(from.as_str().parse::<S>(), Ok(from));
    }
}

#[test]
fn only_demoting_or_deactivating_an_active_admin_removes_an_admin() {
    let user = |role, active| User {
        id: UserId(1),
        company_id: CompanyId(1),
        login: User::stored_login("a".to_owned()),
        display_name: None,
        phone: None,
        email: None,
        role,
        active,
        system_admin: false,
        created_at: 0,
        updated_at: 0,
    };
    let role = |r| UserPatch::new(None, None, None, None, Some(r), CountryType::Tr).unwrap();
    let active = |a| UserPatch::default().with_active(Some(a));
    let admin = user(Role::Admin, true);
    assert!(role(Role::Viewer).removes_admin(&admin));
    assert!(role(Role::Operator).removes_admin(&admin));
    assert!(active(false).removes_admin(&admin));
    assert!(!role(Role::Admin).removes_admin(&admin));
    assert!(!active(true).removes_admin(&admin));
    assert!(!UserPatch::default().removes_admin(&admin));
    // Already no active admin: nothing to lose.
    assert!(!active(false).removes_admin(&user(Role::Admin, false)));
    assert!(!role(Role::Viewer).removes_admin(&user(Role::Operator, true)));
}
