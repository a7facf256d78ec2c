//! Routes: which of a company's provider accounts a message goes through. A company keeps an
//! ordered list; the first route whose match fits the message (recipient kind, zone, number
//! prefix, traffic class — each optional) picks one of its accounts by weight. A company
//! without routes sends everything through its first enabled account, as before routes
//! existed (docs/decisions/0006-sending-core.md, "Routing and failover").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validation::{RuleError, ValidationErrors};
use super::{CompanyId, ProviderAccountId, Recipient, TrafficClass};
use crate::{Code, Zone};

/// A route's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RouteId(pub i64);

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Most routes a company may keep.
pub const MAX_ROUTES: usize = 100;
/// Most accounts one route may spread over.
pub const MAX_ROUTE_TARGETS: usize = 8;
/// The largest weight of a target (the smallest is 1).
pub const MAX_ROUTE_WEIGHT: u32 = 1000;
/// The largest position.
pub const MAX_ROUTE_POSITION: u32 = 1_000_000;
/// The longest number prefix, in digits (an E.164 number has at most 15).
pub const MAX_ROUTE_PREFIX: usize = 15;

/// The kind of recipient a route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteRecipient {
    /// A mobile number.
    Msisdn,
    /// A TC ID number.
    Tckn,
}

stable_names!(RouteRecipient { Msisdn => "msisdn", Tckn => "tckn" });

/// The zone a route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteZone {
    /// Turkey (and every TC ID number: the operator delivers to a Turkish line).
    Tr,
    /// Northern Cyprus.
    Kktc,
    /// Azerbaijan.
    Az,
    /// Anything else (no number Ulak accepts today; kept so routes need no change when
    /// more countries are).
    Other,
}

stable_names!(RouteZone { Tr => "tr", Kktc => "kktc", Az => "az", Other => "other" });

impl RouteZone {
    /// The zone of a recipient.
    pub fn of(to: &Recipient) -> RouteZone {
        match to {
            Recipient::Tckn(_) => RouteZone::Tr,
            Recipient::Msisdn(m) => match m.zone() {
                Zone::Tr => RouteZone::Tr,
                Zone::Kktc => RouteZone::Kktc,
                Zone::Az => RouteZone::Az,
            },
        }
    }
}

/// What a route matches; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteMatch {
    /// Recipient kind.
    pub recipient_kind: Option<RouteRecipient>,
    /// Zone.
    pub zone: Option<RouteZone>,
    /// Leading digits of the E.164 number without `+` (matches mobile numbers only).
    pub prefix: Option<String>,
    /// Traffic class.
    pub class: Option<TrafficClass>,
}

impl RouteMatch {
    /// Whether a message to `to` in lane `class` fits.
    pub fn fits(&self, to: &Recipient, class: TrafficClass) -> bool {
        let kind = match to {
            Recipient::Msisdn(_) => RouteRecipient::Msisdn,
            Recipient::Tckn(_) => RouteRecipient::Tckn,
        };
        let prefix_fits = match (&self.prefix, to) {
            (None, _) => true,
            (Some(p), Recipient::Msisdn(m)) => m.e164().trim_start_matches('+').starts_with(p),
            (Some(_), Recipient::Tckn(_)) => false,
        };
        self.recipient_kind.is_none_or(|k| k == kind)
            && self.zone.is_none_or(|z| z == RouteZone::of(to))
            && self.class.is_none_or(|c| c == class)
            && prefix_fits
    }
}

/// One account of a route and its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouteTarget {
    /// The account.
    pub account: ProviderAccountId,
    /// Its weight, 1..=[`MAX_ROUTE_WEIGHT`].
    pub weight: u32,
}

/// One target as given (unchecked).
#[derive(Debug, Clone, Default)]
pub struct RouteTargetDraft {
    /// The account's id.
    pub account_id: i64,
    /// Its weight; default 1.
    pub weight: Option<u32>,
}

/// A route as given (unchecked); checked by [`NewRoute::new`].
#[derive(Debug, Clone, Default)]
pub struct RouteDraft {
    /// Order among the company's routes: lower is tried first.
    pub position: u32,
    /// `msisdn` or `tckn`.
    pub recipient_kind: Option<String>,
    /// `tr`, `kktc`, `az` or `other`.
    pub zone: Option<String>,
    /// Leading digits of the E.164 number without `+`.
    pub prefix: Option<String>,
    /// `otp`, `transactional` or `campaign`.
    pub class: Option<String>,
    /// The accounts, 1 to [`MAX_ROUTE_TARGETS`].
    pub targets: Vec<RouteTargetDraft>,
}

/// A checked route (also used to replace one). Whether its accounts are the company's is the
/// store's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoute {
    /// Order among the company's routes.
    pub position: u32,
    /// What it matches.
    pub matches: RouteMatch,
    /// The accounts, each once.
    pub targets: Vec<RouteTarget>,
}

fn prefix(p: &str) -> Result<String, RuleError> {
    if p.is_empty() || p.len() > MAX_ROUTE_PREFIX || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RuleError::new(
            Code::ValueInvalid,
            format!("1 to {MAX_ROUTE_PREFIX} digits of the E.164 number, without +"),
        ));
    }
    if p.starts_with('0') {
        return Err(RuleError::new(
            Code::ValueInvalid,
            "an E.164 number starts with its country code, never 0",
        ));
    }
    Ok(p.to_owned())
}

fn optional<T: FromStr<Err = RuleError>>(
    e: &mut ValidationErrors,
    field: &str,
    v: Option<&str>,
) -> Option<T> {
    v.and_then(|s| e.take(field, s.parse::<T>()))
}

impl NewRoute {
    /// Checks every field and reports every fault.
    pub fn new(d: RouteDraft) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        if d.position > MAX_ROUTE_POSITION {
            let m = format!("0 to {MAX_ROUTE_POSITION}");
            e.push("position", Code::ValueOutOfRange, m);
        }
        let recipient_kind = optional(&mut e, "recipient_kind", d.recipient_kind.as_deref());
        let zone = optional(&mut e, "zone", d.zone.as_deref());
        let class = optional(&mut e, "class", d.class.as_deref());
        let prefix = d
            .prefix
            .as_deref()
            .and_then(|p| e.take("prefix", prefix(p)));
        if d.targets.is_empty() {
            e.push("targets", Code::ValueEmpty, "at least one account");
        } else if d.targets.len() > MAX_ROUTE_TARGETS {
            let m = format!("at most {MAX_ROUTE_TARGETS} accounts");
            e.push("targets", Code::ValueTooMany, m);
        }
        let mut targets = Vec::with_capacity(d.targets.len());
        for (i, t) in d.targets.iter().enumerate() {
            let weight = t.weight.unwrap_or(1);
            if !(1..=MAX_ROUTE_WEIGHT).contains(&weight) {
                let m = format!("1 to {MAX_ROUTE_WEIGHT}");
                e.push(format!("targets[{i}].weight"), Code::ValueOutOfRange, m);
            }
            if t.account_id <= 0 {
                let f = format!("targets[{i}].account_id");
                e.push(f, Code::ValueUnknown, "no such provider account");
            }
            let account = ProviderAccountId(t.account_id);
            if targets.iter().any(|x: &RouteTarget| x.account == account) {
                let f = format!("targets[{i}].account_id");
                e.push(f, Code::ValueDuplicate, "each account once per route");
            }
            targets.push(RouteTarget { account, weight });
        }
        e.finish(|| {
            Some(NewRoute {
                position: d.position,
                matches: RouteMatch {
                    recipient_kind,
                    zone,
                    prefix,
                    class,
                },
                targets,
            })
        })
    }
}

/// A stored route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Id.
    pub id: RouteId,
    /// Its company.
    pub company_id: CompanyId,
    /// Order among the company's routes (ties: the older first).
    pub position: u32,
    /// What it matches.
    pub matches: RouteMatch,
    /// Its accounts.
    pub targets: Vec<RouteTarget>,
    /// Created, unix ms.
    pub created_at: i64,
    /// Last changed, unix ms.
    pub updated_at: i64,
}

/// What [`choose`] picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteChoice {
    /// The route.
    pub route: RouteId,
    /// Its account.
    pub account: ProviderAccountId,
}

/// A number spread over `u64` from `seed` (splitmix64), so neighbouring seeds land far apart.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A recipient's seed for [`choose`]: the same recipient gets the same account of a route
/// (a campaign plans twice, for its totals and to queue, and both must agree).
pub fn route_seed(to: &Recipient) -> u64 {
    // FNV-1a over the kind and the address.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in to.kind().bytes().chain(to.address().bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The account of the first route in `routes` (in their order) that fits a message to `to` in
/// lane `class` and has an account not `down`: one of those accounts, by weight, as `seed`
/// falls. A route whose every account is down is passed over for the next one that fits.
/// `None` when nothing fits.
pub fn choose(
    routes: &[Route],
    to: &Recipient,
    class: TrafficClass,
    down: impl Fn(ProviderAccountId) -> bool,
    seed: u64,
) -> Option<RouteChoice> {
    routes
        .iter()
        .filter(|r| r.matches.fits(to, class))
        .find_map(|r| {
            let live = || r.targets.iter().filter(|t| !down(t.account));
            let total: u64 = live().map(|t| u64::from(t.weight)).sum();
            if total == 0 {
                return None;
            }
            let mut at = mix(seed) % total;
            live()
                .find(|t| {
                    let w = u64::from(t.weight);
                    if at < w {
                        true
                    } else {
                        at -= w;
                        false
                    }
                })
                .map(|t| RouteChoice {
                    route: r.id,
                    account: t.account,
                })
        })
}

/// The account a route's messages move to when `from` is down: the next live account after
/// it in the route's order (wrapping around), or `None` if the route has no other live one.
pub fn failover_target(
    route: &Route,
    from: ProviderAccountId,
    down: impl Fn(ProviderAccountId) -> bool,
) -> Option<ProviderAccountId> {
    let i = route.targets.iter().position(|t| t.account == from)?;
    let n = route.targets.len();
    (1..n)
        .map(|k| route.targets[(i + k) % n].account)
        .find(|&a| a != from && !down(a))
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
