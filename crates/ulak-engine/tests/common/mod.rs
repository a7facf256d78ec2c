//! What the engine's tests share: a store on a temporary SQLite file, a funded default
//! company, provider accounts and messages.
#![allow(dead_code, clippy::unwrap_used)]

pub mod campaign;

use std::path::Path;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_store::{DEFAULT_COMPANY, Store};

/// A store on a new SQLite file in `dir`.
pub async fn sqlite_store(dir: &Path) -> Store {
    Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.join("engine.db").display()),
        [7; 32],
    )
    .await
    .unwrap()
}

/// Company `default`, with `credit` bought.
pub async fn funded_default(s: &Store, credit: i64) -> CompanyId {
    let c = s
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    if credit > 0 {
        s.add_credit_entry(
            c,
            NewCreditEntry::new(LedgerKind::Purchase, credit, None).unwrap(),
        )
        .await
        .unwrap();
    }
    c
}

/// A provider account: the built-in simulator's by default, changed by `edit`.
pub async fn account(
    s: &Store,
    c: CompanyId,
    edit: impl FnOnce(&mut ProviderAccountDraft),
) -> ProviderAccountId {
    let mut draft = ProviderAccountDraft {
        name: "sim".into(),
        kind: "simulator".into(),
        host: "builtin".into(),
        port: 2775,
        system_id: "ulak".into(),
        enabled: true,
        ..ProviderAccountDraft::default()
    };
    edit(&mut draft);
    // Any host: what these tests check is sending, not input rules.
    let new = NewProviderAccount::new(draft, CountryType::Tr, &OutboundPolicy::any()).unwrap();
    s.create_provider_account(c, new).await.unwrap().id
}

/// A message from ULAK to a Turkish `phone`, valid for ever.
pub fn message(p: ProviderAccountId, phone: &str, text: &str) -> NewMessage {
    NewMessage::new(
        Recipient::Msisdn(ulak_core::Msisdn::parse(phone, CountryType::Tr).unwrap()),
        SenderName::parse("ULAK").unwrap(),
        text,
        ulak_text::Policy::TurkishShift,
        1,
        Some(p),
        None,
        i64::MAX,
    )
    .unwrap()
}
