//! Account health and failover (docs/decisions/0006-sending-core.md, "Routing and failover").
//!
//! Each account's worker watches its link: an account is *down* when no link has been bound
//! for [`DOWN_AFTER`] (binds failing, the SMSC gone), or when [`FAILING_STREAK`] submits in a
//! row went unanswered (timeouts, links lost under them) or stayed throttled past the retry
//! budget. While it is down its worker claims nothing, gives back what it claimed and did not
//! submit, and withdraws submits not yet written to a link; and every [`SWEEP`] the queued
//! messages of each route through it move to the route's next live account
//! ([`ulak_store::Store::move_queued`]). Only messages no link took can move, so none reaches
//! two operators. An account down for want of a link is up again when a link binds; one down
//! for failing submits is tried again after [`COOL_OFF`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ulak_core::model::{ProviderAccountId, failover_target};
use ulak_store::Store;

use crate::provider::Provider;

/// How long an account may have no bound link before it is down.
pub const DOWN_AFTER: Duration = Duration::from_secs(3);
/// Submits in a row unanswered (or throttled past the retry budget) that make it down.
pub const FAILING_STREAK: u32 = 5;
/// How long an account down for failing submits rests before it is tried again.
pub const COOL_OFF: Duration = Duration::from_secs(30);
/// How often a down account's queued messages are moved on.
pub const SWEEP: Duration = Duration::from_secs(1);
/// How often a link's state is looked at.
const LOOK: Duration = Duration::from_millis(250);

/// One account's health.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountHealth {
    /// Whether it is taking messages.
    pub up: bool,
    /// Since when (unix ms).
    pub since: i64,
    /// Why it went down last (no personal data).
    pub last_error: Option<String>,
}

/// The health of every account this node runs, shared by the workers and the supervisor.
#[derive(Debug, Clone, Default)]
pub struct Health {
    accounts: Arc<Mutex<HashMap<ProviderAccountId, AccountHealth>>>,
}

impl Health {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ProviderAccountId, AccountHealth>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether account `id` is down (an account this node does not run counts as up).
    pub fn is_down(&self, id: ProviderAccountId) -> bool {
        self.map().get(&id).is_some_and(|h| !h.up)
    }

    /// Account `id`'s health, if this node runs it.
    pub fn get(&self, id: ProviderAccountId) -> Option<AccountHealth> {
        self.map().get(&id).cloned()
    }

    /// Every account's health, by id.
    pub fn all(&self) -> Vec<(ProviderAccountId, AccountHealth)> {
        let mut v: Vec<_> = self.map().iter().map(|(k, v)| (*k, v.clone())).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    pub(crate) fn set(&self, id: ProviderAccountId, up: bool, error: Option<String>) {
        let mut m = self.map();
        let last_error = error.or_else(|| m.get(&id).and_then(|h| h.last_error.clone()));
        m.insert(
            id,
            AccountHealth {
                up,
                since: crate::worker::now_ms(),
                last_error,
            },
        );
    }

    fn forget(&self, id: ProviderAccountId) {
        self.map().remove(&id);
    }
}

/// Why an account is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    NoLink,
    Failing,
}

/// A change of an account's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Down, with the reason.
    Down(String),
    /// Up again.
    Up,
}

/// What an account's watch remembers between looks.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    unbound_since: Option<Instant>,
    down: Option<(Instant, Cause)>,
}

impl Watch {
    /// One look at the link at `now`: `bound` links, `streak` submits failing in a row, and
    /// the last bind error. Returns the change, if any.
    pub(crate) fn look(
        &mut self,
        now: Instant,
        bound: usize,
        streak: u32,
        bind_error: Option<String>,
    ) -> Option<Change> {
        if bound == 0 {
            self.unbound_since.get_or_insert(now);
        } else {
            self.unbound_since = None;
        }
        match self.down {
            None => {
                if self
                    .unbound_since
                    .is_some_and(|t| now.duration_since(t) >= DOWN_AFTER)
                {
                    self.down = Some((now, Cause::NoLink));
                    let why = bind_error.unwrap_or_else(|| "the link is not bound".to_owned());
                    return Some(Change::Down(format!(
                        "no link bound for {} s ({why})",
                        DOWN_AFTER.as_secs()
                    )));
                }
                if streak >= FAILING_STREAK {
                    self.down = Some((now, Cause::Failing));
                    return Some(Change::Down(format!(
                        "{streak} submits in a row unanswered or throttled"
                    )));
                }
                None
            }
            Some((_, Cause::NoLink)) if bound > 0 => {
                self.down = None;
                Some(Change::Up)
            }
            Some((at, Cause::Failing)) if bound > 0 && now.duration_since(at) >= COOL_OFF => {
                self.down = None;
                Some(Change::Up)
            }
            Some(_) => None,
        }
    }
}

/// Watches account `id`'s link until `stop`: marks it down and up ([`Health`], and the
/// provider, which then holds its submits back), and while it is down moves its routes'
/// queued messages on.
pub(crate) async fn watch_account(
    store: &Store,
    provider: &dyn Provider,
    id: ProviderAccountId,
    health: &Health,
    metrics: &crate::Metrics,
    stop: CancellationToken,
) {
    health.set(id, true, None);
    metrics.provider_up(id.0, true);
    let mut watch = Watch::default();
    let mut reason: Option<String> = None;
    let mut last_sweep: Option<Instant> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(LOOK) => {}
        }
        let now = Instant::now();
        let link = provider.health();
        match watch.look(now, link.bound, link.failing_streak, link.last_error) {
            Some(Change::Down(why)) => {
                tracing::warn!(account = id.0, reason = %why, "provider account down; its routes' messages move to their next account");
                provider.set_down(true);
                health.set(id, false, Some(why.clone()));
                metrics.provider_up(id.0, false);
                reason = Some(why);
            }
            Some(Change::Up) => {
                tracing::info!(account = id.0, "provider account up again");
                provider.reset_streak();
                provider.set_down(false);
                health.set(id, true, None);
                metrics.provider_up(id.0, true);
                reason = None;
            }
            None => {}
        }
        if let Some(why) = &reason
            && last_sweep.is_none_or(|t| now.duration_since(t) >= SWEEP)
        {
            last_sweep = Some(now);
            move_away(store, id, health, why).await;
        }
    }
    health.forget(id);
}

/// Moves the queued messages of every route through `id` to the route's next live account.
async fn move_away(store: &Store, id: ProviderAccountId, health: &Health, why: &str) {
    let routes = match store.routes_through(id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(account = id.0, error = %e, "reading the routes of a down account failed");
            return;
        }
    };
    if routes.is_empty() {
        return;
    }
    let enabled: Vec<ProviderAccountId> = match store.list_active_provider_accounts().await {
        Ok(a) => a.into_iter().map(|a| a.id).collect(),
        Err(e) => {
            tracing::warn!(account = id.0, error = %e, "reading the enabled accounts failed");
            return;
        }
    };
    let dead = |a: ProviderAccountId| !enabled.contains(&a) || health.is_down(a);
    for r in routes {
        let Some(to) = failover_target(&r, id, dead) else {
            continue;
        };
        let reason = format!("account {} is down: {why}", id.0);
        match store.move_queued(id, r.id, to, &reason).await {
            Ok(moved) if !moved.is_empty() => tracing::info!(
                from = id.0,
                to = to.0,
                route = r.id.0,
                messages = moved.len(),
                "moved queued messages off a down account"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(account = id.0, error = %e, "moving messages off a down account failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_down_without_a_link_and_up_when_one_binds() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert_eq!(w.look(t0, 1, 0, None), None);
        assert_eq!(w.look(t0 + Duration::from_secs(1), 0, 0, None), None);
        // Unbound for less than DOWN_AFTER: still up.
        assert_eq!(w.look(t0 + Duration::from_secs(3), 0, 0, None), None);
        let Some(Change::Down(why)) =
            w.look(t0 + Duration::from_secs(4), 0, 0, Some("refused".into()))
        else {
            panic!("expected down");
        };
        assert!(why.contains("refused"), "{why}");
        assert_eq!(w.look(t0 + Duration::from_secs(9), 0, 0, None), None);
        assert_eq!(
            w.look(t0 + Duration::from_secs(10), 1, 0, None),
            Some(Change::Up)
        );
        // A link lost and found again within DOWN_AFTER changes nothing.
        assert_eq!(w.look(t0 + Duration::from_secs(11), 0, 0, None), None);
        assert_eq!(w.look(t0 + Duration::from_secs(12), 1, 0, None), None);
        assert_eq!(w.look(t0 + Duration::from_secs(20), 1, 0, None), None);
    }

    #[test]
    fn failing_submits_make_it_down_until_it_has_rested() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert_eq!(w.look(t0, 1, FAILING_STREAK - 1, None), None);
        let down = w.look(t0 + Duration::from_secs(1), 1, FAILING_STREAK, None);
        assert!(matches!(down, Some(Change::Down(_))), "{down:?}");
        // Bound all along, but not tried again before the cool-off.
        assert_eq!(
            w.look(t0 + Duration::from_secs(10), 1, FAILING_STREAK, None),
            None
        );
        let back = t0 + Duration::from_secs(1) + COOL_OFF;
        assert_eq!(w.look(back, 1, FAILING_STREAK, None), Some(Change::Up));
    }
}
