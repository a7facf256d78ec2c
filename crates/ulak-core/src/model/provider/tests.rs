//! Per-kind checks of provider account settings.

#![allow(clippy::unwrap_used)]

use super::*;

fn fields(e: &ValidationErrors) -> Vec<(&str, Code)> {
    e.0.iter().map(|f| (f.field.as_str(), f.code)).collect()
}

fn smpp() -> ProviderAccountDraft {
    ProviderAccountDraft {
        name: "op".into(),
        kind: "smpp".into(),
        host: "smpp.operator.com.tr".into(),
        port: 2775,
        system_id: "u".into(),
        ..ProviderAccountDraft::default()
    }
}

fn http() -> ProviderAccountDraft {
    ProviderAccountDraft {
        name: "op".into(),
        kind: "http".into(),
        base_url: Some("https://api.operator.com.tr/sms".into()),
        username: Some("ulak".into()),
        password: Some("secret".into()),
        token: Some("t".repeat(2000)),
        ..ProviderAccountDraft::default()
    }
}

#[test]
fn an_smpp_account_gets_smpp_settings_and_refuses_http_ones() {
    let strict = OutboundPolicy::default();
    let a = NewProviderAccount::new(smpp(), CountryType::Tr, &strict).unwrap();
    let ProviderSettings::Smpp(s) = &a.settings else {
        panic!("{a:?}")
    };
    assert_eq!(
        (s.binds, s.window, s.bind_mode),
        (1, 10, BindMode::Transceiver)
    );
    assert_eq!(a.token, None);
    let d = ProviderAccountDraft {
        base_url: Some("https://x.example".into()),
        username: Some("u".into()),
        token: Some("t".into()),
        ..smpp()
    };
    let e = NewProviderAccount::new(d, CountryType::Tr, &strict).unwrap_err();
    let other = Code::ProviderSettingOtherKind;
    assert_eq!(
        fields(&e),
        [("base_url", other), ("username", other), ("token", other)]
    );
}

/// HTTP settings are checked although no HTTP operator can send yet: the kind is the
/// only error of a good draft, and each bad setting is named beside it.
#[test]
fn an_http_account_gets_http_settings_checked() {
    let strict = OutboundPolicy::default();
    let unsupported = ("kind", Code::ProviderKindUnsupported);
    let e = NewProviderAccount::new(http(), CountryType::Tr, &strict).unwrap_err();
    assert_eq!(fields(&e), [unsupported]);
    let bad = |d: ProviderAccountDraft| {
        let e = NewProviderAccount::new(d, CountryType::Tr, &strict).unwrap_err();
        fields(&e)
            .into_iter()
            .filter(|f| *f != unsupported)
            .map(|(f, c)| (f.to_owned(), c))
            .collect::<Vec<_>>()
    };
    let one = |f: &str, c: Code| vec![(f.to_owned(), c)];
    for (url, code) in [
        ("ftp://api.operator.com.tr", Code::UrlScheme),
        ("https://user:pw@api.operator.com.tr", Code::UrlCredentials),
        ("https://10.0.0.5/api", Code::UrlTargetNotAllowed),
        ("https://localhost:8080/api", Code::UrlTargetNotAllowed),
        ("not a url", Code::UrlInvalid),
    ] {
        let d = ProviderAccountDraft {
            base_url: Some(url.into()),
            ..http()
        };
        assert_eq!(bad(d), one("base_url", code), "{url}");
    }
    let d = ProviderAccountDraft {
        base_url: None,
        ..http()
    };
    assert_eq!(bad(d), one("base_url", Code::ValueEmpty));
    let d = ProviderAccountDraft {
        token: Some("t".repeat(limits::PROVIDER_TOKEN + 1)),
        username: Some("a\nb".into()),
        ..http()
    };
    assert_eq!(
        bad(d).iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["username", "token"]
    );
    // SMPP settings on an HTTP account are refused, each by name.
    let d = ProviderAccountDraft {
        host: "h".into(),
        port: 1,
        system_id: "s".into(),
        bind_mode: Some("transceiver".into()),
        window: Some(5),
        source: Some(TonNpi { ton: 1, npi: 1 }),
        ..http()
    };
    let other = Code::ProviderSettingOtherKind;
    assert_eq!(
        bad(d),
        ["host", "port", "system_id", "bind_mode", "window", "source"]
            .map(|f| (f.to_owned(), other))
    );
}

#[test]
fn blank_http_credentials_are_refused_and_debug_hides_secrets() {
    let strict = OutboundPolicy::default();
    let d = ProviderAccountDraft {
        username: Some("   ".into()),
        token: Some(" \t ".into()),
        ..http()
    };
    let e = NewProviderAccount::new(d, CountryType::Tr, &strict).unwrap_err();
    assert_eq!(
        fields(&e),
        [
            ("kind", Code::ProviderKindUnsupported),
            ("username", Code::ValueEmpty),
            ("token", Code::ValueEmpty)
        ]
    );
    let shown = format!("{:?}", http());
    assert!(
        !shown.contains("secret") && !shown.contains("ttttt"),
        "{shown}"
    );
    assert!(shown.contains("***"), "{shown}");
}

#[test]
fn in_flight_follows_the_kind() {
    let smpp = ProviderSettings::Smpp(SmppSettings {
        host: "h".into(),
        port: 1,
        system_id: "s".into(),
        system_type: String::new(),
        bind_mode: BindMode::Transceiver,
        binds: 4,
        window: 25,
        source: TonNpi { ton: 5, npi: 0 },
        destination: TonNpi { ton: 1, npi: 1 },
    });
    let mut a = ProviderAccount {
        id: ProviderAccountId(1),
        company_id: CompanyId(1),
        name: "a".into(),
        kind: ProviderKind::Smpp,
        has_password: false,
        has_token: false,
        rate_per_sec: 10,
        text_policy: Policy::TurkishShift,
        enabled: true,
        created_at: 0,
        updated_at: 0,
        settings: smpp,
    };
    assert_eq!(a.in_flight(), 100);
    a.settings = ProviderSettings::Http(HttpSettings {
        base_url: "https://x".into(),
        username: String::new(),
    });
    assert_eq!(a.in_flight(), 10);
    a.rate_per_sec = 5000;
    assert_eq!(a.in_flight(), MAX_HTTP_IN_FLIGHT);
}
