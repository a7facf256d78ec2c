//! The dashboard's provider accounts: for each account of the company, the engine's status
//! snapshot on this node (`ulak_engine::status`, the same as
//! `GET /api/v1/provider-accounts/{id}/status`), written for people.

use ulak_core::model::{CompanyId, Language, ListQuery};
use ulak_store::StoreError;

use super::format;
use super::i18n::Texts;
use super::people::when;
use crate::routes::provider_status::account_status;
use crate::startup::AppState;

/// Accounts shown (a company has a handful).
const ACCOUNTS: u32 = 20;

/// One account's row.
pub(super) struct ProviderRow {
    pub(super) name: String,
    /// `up`, `down` or `idle` (not run here), for the CSS class and tests.
    pub(super) state: &'static str,
    pub(super) state_key: &'static str,
    pub(super) since: String,
    pub(super) window: String,
    pub(super) rate: String,
    pub(super) queued: String,
    pub(super) drain: String,
    pub(super) last_error: String,
}

/// The rows of `company`'s provider accounts.
pub(super) async fn provider_rows(
    state: &AppState,
    company: CompanyId,
    zone: &str,
    t: Texts,
) -> Result<Vec<ProviderRow>, StoreError> {
    let q = ListQuery {
        limit: Some(ACCOUNTS),
        ..ListQuery::default()
    };
    let accounts = state.store().list_provider_accounts(company, &q).await?;
    let mut rows = Vec::with_capacity(accounts.items.len());
    for a in accounts.items {
        let s = account_status(state, company, a.id).await?;
        let (state_name, state_key) = match s.up {
            Some(true) => ("up", "dashboard.provider.up"),
            Some(false) => ("down", "dashboard.provider.down"),
            None => ("idle", "dashboard.provider.idle"),
        };
        let n = |v: i64| format::integer(v, t.language());
        rows.push(ProviderRow {
            name: a.name,
            state: state_name,
            state_key,
            since: s.since.map(|ms| when(ms, zone)).unwrap_or_default(),
            window: n(i64::try_from(s.window_in_use).unwrap_or(i64::MAX)),
            rate: rate(s.per_second, t.language()),
            queued: n(s.queued),
            drain: s
                .drain_seconds
                .map_or_else(|| "—".to_owned(), |d| duration(d, t)),
            last_error: s.last_error.unwrap_or_default(),
        });
    }
    Ok(rows)
}

/// Messages per second with one decimal, the decimal mark as the language writes it.
fn rate(per_second: f64, language: Language) -> String {
    let text = format!("{per_second:.1}");
    match language {
        Language::Tr => text.replace('.', ","),
        Language::En => text,
    }
}

/// Seconds as the largest whole unit that fits: 45 sn, 12 dk, 3 sa, 2 gün.
fn duration(seconds: u64, t: Texts) -> String {
    let (n, key) = match seconds {
        s if s < 60 => (s, "dashboard.unit.seconds"),
        s if s < 3600 => (s.div_ceil(60), "dashboard.unit.minutes"),
        s if s < 86_400 => (s.div_ceil(3600), "dashboard.unit.hours"),
        s => (s.div_ceil(86_400), "dashboard.unit.days"),
    };
    let n = format::integer(i64::try_from(n).unwrap_or(i64::MAX), t.language());
    t.with(key, "n", &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations_are_written_per_language() {
        assert_eq!(rate(12.345, Language::Tr), "12,3");
        assert_eq!(rate(0.0, Language::En), "0.0");
        let tr = Texts::new(Language::Tr);
        assert_eq!(duration(45, tr), "45 sn");
        assert_eq!(duration(61, tr), "2 dk");
        assert_eq!(duration(7200, Texts::new(Language::En)), "2 h");
    }
}
