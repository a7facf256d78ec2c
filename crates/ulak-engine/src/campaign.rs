//! Campaigns: turning an audience (subscribers, groups, customer accounts, pasted numbers,
//! TC ID numbers) into messages. Duplicates are collapsed; opted-out, invalid or
//! unrenderable recipients are kept as `skipped` with the reason, never silently dropped.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use ulak_core::model::{
    Consent, CustomerAccountId, GroupId, ListQuery, MAX_LIMIT, NewMessage, ProviderAccount,
    Recipient, SubscriberId, TemplateBody,
};
use ulak_core::{CountryType, Msisdn, Tckn};
use ulak_store::{Campaign, Store, StoreError};

/// Who a campaign goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Subscribers by id.
    #[serde(default)]
    pub subscriber_ids: Vec<i64>,
    /// Every member of these groups.
    #[serde(default)]
    pub group_ids: Vec<i64>,
    /// Every phone of these customer accounts.
    #[serde(default)]
    pub customer_ids: Vec<i64>,
    /// Pasted numbers, in any common form.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// TC ID numbers (sent with the TC-ID header; needs the TC-ID subscription).
    #[serde(default)]
    pub tckns: Vec<String>,
}

impl Audience {
    /// Whether nobody is named.
    pub fn is_empty(&self) -> bool {
        self.subscriber_ids.is_empty()
            && self.group_ids.is_empty()
            && self.customer_ids.is_empty()
            && self.numbers.is_empty()
            && self.tckns.is_empty()
    }
}

/// A recipient left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `msisdn`, `tckn` or `unknown` (unreadable input).
    pub kind: String,
    /// The address (E.164, TC ID number, or the input as given).
    pub address: String,
    /// Why.
    pub reason: String,
}

/// What a campaign would send.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The messages, rendered and priced.
    pub messages: Vec<NewMessage>,
    /// Recipients left out.
    pub skipped: Vec<Skipped>,
    /// Repeats of a recipient already in the audience, collapsed.
    pub duplicates: u64,
    /// Segments in all.
    pub segments: u64,
    /// Credits in all.
    pub cost: i64,
}

/// Why a campaign cannot be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The company lacks what sending needs (a provider account, a sender header).
    #[error("{field}: {message}")]
    Setup {
        /// The field to fix.
        field: &'static str,
        /// What is missing.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Money in kuruş as Turkish lira text: `123456` → `1.234,56`.
fn lira(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let v = minor.unsigned_abs();
    let whole = (v / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped},{:02}", v % 100)
}

/// Builds the plan of `campaign` as the data stands now.
pub async fn plan(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Plan, PlanError> {
    let company = campaign.company_id;
    let settings = store
        .get_sms_settings(company)
        .await?
        .ok_or(StoreError::NotFound)?;
    let country: CountryType = settings.country_type;
    let all = ListQuery {
        limit: Some(MAX_LIMIT),
        ..ListQuery::default()
    };
    let provider: ProviderAccount =
        store
            .sending_account(company)
            .await?
            .ok_or_else(|| PlanError::Setup {
                field: "provider",
                message: "the company has no enabled provider account".to_owned(),
            })?;
    let sender = store
        .find_sender_header(company, campaign.sender.as_deref())
        .await?
        .map(|h| h.name)
        .ok_or_else(|| PlanError::Setup {
            field: "sender",
            message: "not one of the company's sender headers (or no default is set)".to_owned(),
        })?;
    let body = TemplateBody::parse(&campaign.body).map_err(|e| PlanError::Setup {
        field: "text",
        message: e.to_string(),
    })?;
    let mut opted_out: HashSet<String> = HashSet::new();
    let mut q = all.clone();
    loop {
        let page = store.list_opt_outs(company, &q).await?;
        opted_out.extend(page.items.iter().map(|o| o.phone.e164().to_owned()));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }

    // (recipient, template fields) in audience order; skipped ones straight to the list.
    let mut candidates: Vec<(Recipient, BTreeMap<String, String>)> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let skip = |kind: &str, address: String, reason: String| Skipped {
        kind: kind.to_owned(),
        address,
        reason,
    };
    let subscriber_fields = |s: &ulak_core::model::Subscriber| {
        let mut f = s.attributes.as_map().clone();
        f.insert("ad".to_owned(), s.name.clone());
        f.insert("telefon".to_owned(), s.phone.national());
        f
    };
    let push_subscriber =
        |s: ulak_core::model::Subscriber, candidates: &mut Vec<_>, skipped: &mut Vec<Skipped>| {
            if s.consent == Consent::OptedOut {
                skipped.push(skip(
                    "msisdn",
                    s.phone.e164().to_owned(),
                    "the subscriber opted out".into(),
                ));
            } else {
                let f = subscriber_fields(&s);
                candidates.push((Recipient::Msisdn(s.phone), f));
            }
        };
    for id in &audience.subscriber_ids {
        match store.get_subscriber(company, SubscriberId(*id)).await? {
            Some(s) => push_subscriber(s, &mut candidates, &mut skipped),
            None => skipped.push(skip(
                "unknown",
                format!("subscriber {id}"),
                "no such subscriber".into(),
            )),
        }
    }
    for g in &audience.group_ids {
        if store.get_group(company, GroupId(*g)).await?.is_none() {
            skipped.push(skip(
                "unknown",
                format!("group {g}"),
                "no such group".into(),
            ));
            continue;
        }
        let mut q = ListQuery {
            group_id: Some(GroupId(*g)),
            ..all.clone()
        };
        loop {
            let page = store.list_subscribers(company, &q).await?;
            for s in page.items {
                push_subscriber(s, &mut candidates, &mut skipped);
            }
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
    }
    for id in &audience.customer_ids {
        match store
            .get_customer_account(company, CustomerAccountId(*id))
            .await?
        {
            Some(a) => {
                let mut f = a.attributes.as_map().clone();
                f.insert("kod".to_owned(), a.code.clone());
                f.insert("unvan".to_owned(), a.title.clone());
                f.insert("bakiye".to_owned(), lira(a.balance_minor));
                for p in a.phones {
                    let mut f = f.clone();
                    f.insert("telefon".to_owned(), p.national());
                    candidates.push((Recipient::Msisdn(p), f));
                }
            }
            None => skipped.push(skip(
                "unknown",
                format!("customer account {id}"),
                "no such customer account".into(),
            )),
        }
    }
    for n in &audience.numbers {
        match Msisdn::parse(n, country) {
            Ok(p) => {
                let mut f = BTreeMap::new();
                f.insert("telefon".to_owned(), p.national());
                candidates.push((Recipient::Msisdn(p), f));
            }
            Err(e) => skipped.push(skip(
                "unknown",
                n.trim().to_owned(),
                format!("invalid number: {e}"),
            )),
        }
    }
    for t in &audience.tckns {
        match Tckn::parse(t) {
            Ok(id) => candidates.push((Recipient::Tckn(id), BTreeMap::new())),
            Err(e) => skipped.push(skip(
                "unknown",
                t.trim().to_owned(),
                format!("invalid TC ID number: {e}"),
            )),
        }
    }

    let valid_until = campaign
        .scheduled_at
        .unwrap_or_else(crate::worker::now_ms)
        .max(crate::worker::now_ms())
        + campaign.validity_s * 1000;
    let mut seen: HashSet<String> = HashSet::new();
    let mut plan = Plan {
        messages: Vec::new(),
        skipped,
        duplicates: 0,
        segments: 0,
        cost: 0,
    };
    for (to, fields) in candidates {
        let address = to.address();
        if !seen.insert(address.clone()) {
            plan.duplicates += 1;
            continue;
        }
        let kind = to.kind();
        if kind == "msisdn" && opted_out.contains(&address) {
            plan.skipped
                .push(skip(kind, address, "on the opt-out list".into()));
            continue;
        }
        let sender = match &to {
            Recipient::Tckn(_) => {
                match (&settings.tckn_sender, settings.tckn_subscription_active) {
                    (Some(h), true) => h.clone(),
                    _ => {
                        plan.skipped.push(skip(
                            kind,
                            address,
                            "TC ID sends need an active TC-ID subscription and header".into(),
                        ));
                        continue;
                    }
                }
            }
            Recipient::Msisdn(_) => sender.clone(),
        };
        let text = match body.render_map(&fields) {
            Ok(t) => t,
            Err(missing) => {
                plan.skipped.push(skip(
                    kind,
                    address,
                    format!("no value for {}", missing.0.join(", ")),
                ));
                continue;
            }
        };
        match NewMessage::new(
            to,
            sender,
            &text,
            provider.text_policy,
            1,
            Some(provider.id),
            campaign.scheduled_at,
            valid_until,
        ) {
            Ok(m) => {
                plan.segments += u64::from(m.segments);
                plan.cost += m.cost;
                plan.messages.push(m);
            }
            Err(e) => plan.skipped.push(skip(kind, address, e.to_string())),
        }
    }
    Ok(plan)
}

/// Starts a draft (or a campaign paused before anything was queued): plans it, and either
/// queues its messages with one credit reservation and records the skipped recipients, or —
/// when the balance cannot cover it — pauses it saying so.
pub async fn start(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Campaign, PlanError> {
    let company = campaign.company_id;
    let plan = plan(store, campaign, audience).await?;
    let pause = |reason: String| async move {
        store
            .set_campaign_state(
                company,
                campaign.id,
                &["draft", "paused"],
                "paused",
                Some(&reason),
            )
            .await
    };
    let balance = store.credit_balance(company).await?;
    if balance < plan.cost {
        return Ok(pause(format!(
            "insufficient credit: it needs {}, the balance is {balance}; add credit and resume",
            plan.cost
        ))
        .await?);
    }
    match store
        .enqueue_batch(company, Some(campaign.id), &plan.messages)
        .await
    {
        Ok(_) => {}
        Err(StoreError::InsufficientCredit { balance, .. }) => {
            return Ok(pause(format!(
                "insufficient credit: it needs {}, the balance is {balance}; add credit and resume",
                plan.cost
            ))
            .await?);
        }
        Err(e) => return Err(e.into()),
    }
    let skipped: Vec<(String, String, String)> = plan
        .skipped
        .iter()
        .map(|s| (s.kind.clone(), s.address.clone(), s.reason.clone()))
        .collect();
    let sender = campaign.sender.clone().unwrap_or_default();
    store
        .record_skipped(company, campaign.id, &sender, &skipped)
        .await?;
    Ok(store
        .mark_campaign_started(
            company,
            campaign.id,
            plan.messages.len() as i64,
            plan.skipped.len() as i64,
            plan.cost,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lira_is_written_the_turkish_way() {
        assert_eq!(super::lira(123_456), "1.234,56");
        assert_eq!(super::lira(5), "0,05");
        assert_eq!(super::lira(-10_000_000), "-100.000,00");
    }
}
