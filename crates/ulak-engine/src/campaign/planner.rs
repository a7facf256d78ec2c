//! Planning a campaign: each [`super::Candidate`] becomes a message, a skip or a duplicate
//! (recipients deduplicated as 8-byte keys), and the whole audience's totals.

use std::collections::HashSet;
use std::time::Instant;

use ulak_core::Code;

use ulak_core::CountryType;
use ulak_core::model::{
    CompanyId, ListQuery, MAX_LIMIT, MAX_MESSAGE_SEGMENTS, NewMessage, Recipient, TemplateBody,
    TextCount, TrafficClass, valid_until,
};
use ulak_store::{Campaign, Routing, Store, StoreError};

use crate::send::{PRICE_PER_SEGMENT, SenderSetup, message_for, sender_for};

use super::{Audience, Candidate, Candidates, Plan, PlanError, SAMPLES, Skipped, TOUCH_EVERY, why};

/// Marks TC ID numbers in a recipient key; a phone's key is its E.164 digits (at most 15, so
/// under 2⁵⁰), a TC ID number's its 11 digits with this bit.
const TCKN_KEY: u64 = 1 << 62;

/// The digits of `s` as a number (E.164 numbers and TC ID numbers start with a non-zero
/// digit, so the number gives the digits back).
fn digits(s: &str) -> u64 {
    s.bytes().filter(u8::is_ascii_digit).fold(0u64, |n, b| {
        n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
    })
}

/// A recipient as 8 bytes, for the dedupe and opt-out sets of a million-recipient audience.
fn key(to: &Recipient) -> u64 {
    match to {
        Recipient::Msisdn(p) => digits(p.e164()),
        Recipient::Tckn(t) => TCKN_KEY | digits(&t.as_string()),
    }
}

/// The key of a stored recipient (`recipient_kind`, `recipient`).
fn stored_key(kind: &str, address: &str) -> u64 {
    match kind {
        "tckn" => TCKN_KEY | digits(address),
        _ => digits(address),
    }
}

/// What the planner makes of one candidate.
#[derive(Debug)]
pub enum Decision {
    /// A message to queue.
    Message(NewMessage),
    /// A recipient left out, with the reason.
    Skipped(Skipped),
    /// A recipient already planned.
    Duplicate,
}

/// What a campaign's messages are made with: the company's provider account, sender headers
/// and country type, the text, the send time and validity. Loading it is what a start checks
/// at once (the same errors as planning).
pub struct Setup {
    country: CountryType,
    /// Each recipient's account is chosen by the company's routes (the same recipient the
    /// same account, so the totals and the queueing agree).
    routing: Routing,
    /// The campaign's header, the TC-ID header and subscription: [`sender_for`] decides.
    senders: SenderSetup,
    body: TemplateBody,
    scheduled_at: Option<i64>,
    valid_until: i64,
}

impl Setup {
    /// Loads the setup of `campaign` as the data stands now.
    pub async fn load(store: &Store, campaign: &Campaign) -> Result<Self, PlanError> {
        let company = campaign.company_id;
        let settings = store
            .get_sms_settings(company)
            .await?
            .ok_or(StoreError::NotFound)?;
        let routing = store.routing(company).await?;
        if routing.accounts.is_empty() {
            return Err(PlanError::Setup {
                field: "provider",
                code: Code::ProviderNone,
                message: "the company has no enabled provider account".to_owned(),
            });
        }
        let sender = store
            .find_sender_header(company, campaign.sender.as_deref())
            .await?
            .map(|h| h.name)
            .ok_or_else(|| PlanError::Setup {
                field: "sender",
                code: Code::SenderUnknown,
                message: "not one of the company's sender headers (or no default is set)"
                    .to_owned(),
            })?;
        let body = TemplateBody::parse(&campaign.body).map_err(|e| PlanError::Setup {
            field: "text",
            code: Code::TemplatePlaceholderInvalid,
            message: e.to_string(),
        })?;
        let now = crate::worker::now_ms();
        // Checked: a schedule stored before schedules were bounded may be anything.
        let valid_until =
            valid_until(campaign.scheduled_at, now, campaign.validity_s).ok_or_else(|| {
                PlanError::Setup {
                    field: "scheduled_at",
                    code: Code::ScheduleOutOfRange,
                    message: "the send time and validity pass the largest possible time".to_owned(),
                }
            })?;
        Ok(Setup {
            country: settings.country_type,
            senders: SenderSetup {
                header: Some(sender),
                tckn_header: settings.tckn_sender,
                tckn_subscription: settings.tckn_subscription_active,
            },
            routing,
            body,
            scheduled_at: campaign.scheduled_at,
            valid_until,
        })
    }

    /// The most one of the campaign's messages can cost. A text without placeholders is the
    /// same for everyone: its own cost. `{{telefon}}` is a national number (digits and
    /// spaces, one septet or character each in every encoding): counted as 40 digits, which
    /// no number reaches. Any other field can hold anything: the most a message may have,
    /// [`MAX_MESSAGE_SEGMENTS`].
    pub fn most_per_message(&self) -> i64 {
        let most = i64::try_from(MAX_MESSAGE_SEGMENTS).unwrap_or(i64::MAX);
        let widest = |f: &str| (f == "telefon").then(|| "0".repeat(40));
        let Ok(text) = self.body.render(widest) else {
            return most.saturating_mul(PRICE_PER_SEGMENT);
        };
        // Routes may send through accounts of different text policies: the dearest counts.
        let segments = self
            .routing
            .accounts
            .iter()
            .map(|a| {
                let opts = ulak_text::Options {
                    policy: a.text_policy,
                    ..ulak_text::Options::default()
                };
                match TextCount::new(&text, &opts) {
                    Ok(c) if !c.too_long => i64::try_from(c.count.segments).unwrap_or(most),
                    // Refused for everyone (every recipient is skipped): the bound does not
                    // matter.
                    _ => most,
                }
            })
            .max()
            .unwrap_or(most);
        segments.saturating_mul(PRICE_PER_SEGMENT)
    }
}

/// A campaign's setup and opt-out list and the recipients planned so far: turns candidates
/// into messages, one at a time.
pub struct Planner {
    setup: Setup,
    opted_out: HashSet<u64>,
    seen: HashSet<u64>,
}

impl Planner {
    /// Loads the setup of `campaign` and the company's opt-out list as the data stands now.
    pub async fn new(store: &Store, campaign: &Campaign) -> Result<Self, PlanError> {
        let setup = Setup::load(store, campaign).await?;
        let mut opted_out: HashSet<u64> = HashSet::new();
        let mut q = ListQuery {
            limit: Some(MAX_LIMIT),
            ..ListQuery::default()
        };
        loop {
            let page = store.list_opt_outs(campaign.company_id, &q).await?;
            opted_out.extend(page.items.iter().map(|o| digits(o.phone.e164())));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        Ok(Planner {
            setup,
            opted_out,
            seen: HashSet::new(),
        })
    }

    /// The candidates of `audience` (pasted numbers read as the company's country type).
    pub fn candidates<'a>(
        &self,
        store: &'a Store,
        company: CompanyId,
        audience: &'a Audience,
    ) -> Candidates<'a> {
        Candidates::new(store, company, audience, self.setup.country)
    }

    /// Plans one candidate: a repeat is a duplicate; an opted-out number, a TC ID number
    /// without the TC-ID subscription, a text missing a field or one that cannot be sent is
    /// skipped with the reason; anything else is a message.
    pub fn decide(&mut self, c: Candidate) -> Decision {
        let (to, fields) = match c {
            Candidate::Skip(s) => return Decision::Skipped(s),
            Candidate::Send { to, fields } => (to, fields),
        };
        let k = key(&to);
        if !self.seen.insert(k) {
            return Decision::Duplicate;
        }
        let kind = to.kind();
        let skipped = |reason: String| {
            Decision::Skipped(Skipped {
                kind: kind.to_owned(),
                address: to.address(),
                reason,
            })
        };
        if kind == "msisdn" && self.opted_out.contains(&k) {
            return skipped(why::OPT_OUT_LIST.into());
        }
        let setup = &self.setup;
        let sender = match sender_for(&setup.senders, (&to).into(), None) {
            Ok(h) => h,
            Err(refusal) => return skipped(refusal.message),
        };
        let text = match setup.body.render(|f| fields.get(&to, f)) {
            Ok(t) => t,
            Err(missing) => {
                return skipped(format!("{} {}", why::NO_VALUE, missing.0.join(", ")));
            }
        };
        let address = to.address();
        let Some((route, account)) = setup.routing.pick(&to, TrafficClass::Campaign, |_| false)
        else {
            // `Setup::load` refused a company without accounts; kept as a skip, not a panic.
            return skipped("no enabled provider account".into());
        };
        match message_for(
            account,
            to,
            sender,
            &text,
            setup.scheduled_at,
            setup.valid_until,
        ) {
            Ok(m) => Decision::Message(m.in_class(TrafficClass::Campaign).routed(route)),
            Err(e) => Decision::Skipped(Skipped {
                kind: kind.to_owned(),
                address,
                reason: e.to_string(),
            }),
        }
    }

    /// Makes room in the dedupe set for the recipients `audience` names one by one (groups
    /// and customer accounts are not counted ahead), so it does not grow by doubling.
    pub fn expect(&mut self, audience: &Audience) {
        self.seen
            .reserve(audience.subscriber_ids.len() + audience.numbers.len() + audience.tckns.len());
    }

    /// Counts a candidate already planned (before a queueing cursor) as seen, without
    /// planning it again, so what follows is deduplicated against it as before.
    pub fn replay(&mut self, c: &Candidate) {
        if let Candidate::Send { to, .. } = c {
            self.seen.insert(key(to));
        }
    }

    /// Counts a recipient already stored for the campaign as seen.
    pub(super) fn remember_stored(&mut self, kind: &str, address: &str) {
        self.seen.insert(stored_key(kind, address));
    }
}

/// What a survey of the whole audience found.
pub(super) struct Survey {
    /// The totals (and the skipped recipients, when kept).
    pub plan: Plan,
    /// Recipients left out.
    pub skipped: u64,
    /// Candidates read (queued, skipped and duplicates alike): what a queueing cursor counts.
    pub entries: u64,
}

/// Keeps the stamp of a campaign's queueing fresh while its audience is priced, so no node
/// takes it over, and finds out when the queueing ended meanwhile (the campaign was cancelled).
pub(super) struct Beat<'a> {
    store: &'a Store,
    company: CompanyId,
    id: i64,
    at: Instant,
    /// The queueing is no longer being priced: the survey stopped early.
    pub gone: bool,
}

impl<'a> Beat<'a> {
    /// A beat for campaign `id`, stamped now.
    pub fn new(store: &'a Store, company: CompanyId, id: i64) -> Self {
        Beat {
            store,
            company,
            id,
            at: Instant::now(),
            gone: false,
        }
    }

    /// Stamps the queueing if [`TOUCH_EVERY`] has passed; `false` once it is gone.
    async fn alive(&mut self) -> Result<bool, StoreError> {
        if self.at.elapsed() >= TOUCH_EVERY {
            self.gone = !self
                .store
                .touch_campaign_queueing(self.company, self.id, 0)
                .await?;
            self.at = Instant::now();
        }
        Ok(!self.gone)
    }
}

/// Plans the whole audience; the list of skipped recipients is kept when `keep_skipped`, else
/// only counted. With a `beat`, stops early (`beat.gone`) when the queueing it prices ended.
pub(super) async fn survey(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    keep_skipped: bool,
    mut beat: Option<&mut Beat<'_>>,
) -> Result<Survey, PlanError> {
    let mut planner = Planner::new(store, campaign).await?;
    planner.expect(audience);
    let mut source = planner.candidates(store, campaign.company_id, audience);
    let mut plan = Plan::default();
    let (mut skipped, mut entries) = (0u64, 0u64);
    while let Some(c) = source.next().await? {
        entries += 1;
        if let Some(b) = beat.as_deref_mut()
            && !b.alive().await?
        {
            break;
        }
        match planner.decide(c) {
            Decision::Message(m) => {
                plan.recipients += 1;
                plan.segments += u64::from(m.segments);
                plan.cost = plan
                    .cost
                    .checked_add(m.cost)
                    .ok_or_else(|| PlanError::Setup {
                        field: "audience",
                        code: Code::ValueOutOfRange,
                        message: "the cost passes the largest possible amount".to_owned(),
                    })?;
                if plan.samples.len() < SAMPLES {
                    plan.samples.push(m.body);
                }
            }
            Decision::Skipped(s) => {
                skipped += 1;
                if keep_skipped {
                    plan.skipped.push(s);
                }
            }
            Decision::Duplicate => plan.duplicates += 1,
        }
    }
    Ok(Survey {
        plan,
        skipped,
        entries,
    })
}
