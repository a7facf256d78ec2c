//! Campaigns: turning an audience (subscribers, groups, customer accounts, pasted numbers,
//! TC ID numbers) into messages. Duplicates are collapsed; opted-out, invalid or
//! unrenderable recipients are kept as `skipped` with the reason, never silently dropped.
//!
//! Nothing holds the whole audience's messages: [`Candidates`] pulls the audience a page at a
//! time, a [`Planner`] turns each candidate into a message, a skip or a duplicate (with a
//! dedupe set of 8 bytes per recipient), and a start writes the messages in chunks of
//! [`CHUNK`], each one transaction that advances a cursor on the campaign, so sending begins
//! with the first chunk and a crash leaves a point to go on from.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::text_list::TextList;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ulak_core::model::{
    Attributes, CompanyId, Consent, CustomerAccount, CustomerAccountId, GroupId, ListQuery,
    MAX_LIMIT, NewMessage, ProviderAccount, Recipient, SenderName, Subscriber, SubscriberId,
    TemplateBody, valid_until,
};
use ulak_core::{CountryType, Msisdn, Tckn};
use ulak_store::{
    Campaign, CampaignQueueing, QUEUEING_ACTIVE, QUEUEING_HALTED, SkippedRow, Store, StoreError,
};

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
    pub numbers: TextList,
    /// TC ID numbers (sent with the TC-ID header; needs the TC-ID subscription).
    #[serde(default)]
    pub tckns: TextList,
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
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Messages it would send.
    pub recipients: u64,
    /// Recipients left out.
    pub skipped: Vec<Skipped>,
    /// Repeats of a recipient already in the audience, collapsed.
    pub duplicates: u64,
    /// Segments in all.
    pub segments: u64,
    /// Credits in all.
    pub cost: i64,
    /// The first messages' texts as they would be sent (at most [`SAMPLES`]).
    pub samples: Vec<String>,
}

/// How many texts a [`Plan`] keeps as samples.
pub const SAMPLES: usize = 5;

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

/// Candidates per chunk when queueing: each chunk is one transaction.
pub const CHUNK: usize = 5_000;

/// How long a campaign's queueing may go without a chunk or a sign of life before a node takes
/// it over (the writer died, or its request was dropped).
pub const QUEUE_STALE: Duration = Duration::from_secs(30);

/// How often a writer replaying the audience up to its cursor says it is still at work.
const TOUCH_EVERY: Duration = Duration::from_secs(5);

/// Pasted numbers or TC ID numbers read per refill of a [`Candidates`] buffer.
const INPUT_PAGE: usize = 1_000;

/// Where a recipient's template fields come from; the text is rendered from these only when
/// the recipient is sent to, so a candidate is small until then.
#[derive(Debug, Clone)]
pub enum Fields {
    /// A TC ID number: no fields.
    None,
    /// A pasted number: `telefon`.
    Number,
    /// A subscriber: its attributes, `ad` (the name) and `telefon`.
    Subscriber {
        /// The subscriber's name.
        name: String,
        /// Its attributes.
        attributes: Attributes,
    },
    /// One phone of a customer account: the account's attributes, `kod`, `unvan`, `bakiye`
    /// and `telefon` (shared by the account's phones).
    Customer(Arc<CustomerAccount>),
}

impl Fields {
    /// A field's value for recipient `to`. The named fields win over attributes of the same
    /// name, as they always have.
    fn get(&self, to: &Recipient, key: &str) -> Option<String> {
        let telefon = || match to {
            Recipient::Msisdn(p) => Some(p.national()),
            Recipient::Tckn(_) => None,
        };
        match self {
            Fields::None => None,
            Fields::Number => (key == "telefon").then(telefon).flatten(),
            Fields::Subscriber { name, attributes } => match key {
                "ad" => Some(name.clone()),
                "telefon" => telefon(),
                k => attributes.get(k).map(str::to_owned),
            },
            Fields::Customer(a) => match key {
                "kod" => Some(a.code.clone()),
                "unvan" => Some(a.title.clone()),
                "bakiye" => Some(lira(a.balance_minor)),
                "telefon" => telefon(),
                k => a.attributes.get(k).map(str::to_owned),
            },
        }
    }
}

/// One entry of a campaign's audience, in audience order.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// A recipient to plan a message for.
    Send {
        /// Who.
        to: Recipient,
        /// Where the template's fields come from.
        fields: Fields,
    },
    /// An entry left out as it stands (no such subscriber, an unreadable number…).
    Skip(Skipped),
}

/// Which part of the audience a [`Candidates`] is reading.
#[derive(Debug)]
enum Stage {
    Subscribers(usize),
    Groups {
        index: usize,
        cursor: Option<String>,
        started: bool,
    },
    Customers(usize),
    Numbers(usize),
    Tckns(usize),
    Done,
}

/// The audience's candidates, pulled a page at a time in a fixed order: subscribers by id,
/// each group's members (by subscriber id), each customer account's phones, pasted numbers,
/// TC ID numbers. The same data gives the same sequence, which is what a queueing cursor
/// counts.
pub struct Candidates<'a> {
    store: &'a Store,
    company: CompanyId,
    audience: &'a Audience,
    country: CountryType,
    stage: Stage,
    buf: VecDeque<Candidate>,
}

fn skip(kind: &str, address: String, reason: impl Into<String>) -> Candidate {
    Candidate::Skip(Skipped {
        kind: kind.to_owned(),
        address,
        reason: reason.into(),
    })
}

fn subscriber(s: Subscriber) -> Candidate {
    if s.consent == Consent::OptedOut {
        skip(
            "msisdn",
            s.phone.e164().to_owned(),
            "the subscriber opted out",
        )
    } else {
        Candidate::Send {
            to: Recipient::Msisdn(s.phone),
            fields: Fields::Subscriber {
                name: s.name,
                attributes: s.attributes,
            },
        }
    }
}

impl<'a> Candidates<'a> {
    /// The candidates of `audience`, pasted numbers read as `country` gives.
    pub fn new(
        store: &'a Store,
        company: CompanyId,
        audience: &'a Audience,
        country: CountryType,
    ) -> Self {
        Candidates {
            store,
            company,
            audience,
            country,
            stage: Stage::Subscribers(0),
            buf: VecDeque::new(),
        }
    }

    /// The next candidate, `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Candidate>, StoreError> {
        loop {
            if let Some(c) = self.buf.pop_front() {
                return Ok(Some(c));
            }
            if matches!(self.stage, Stage::Done) {
                return Ok(None);
            }
            self.refill().await?;
        }
    }

    /// Reads the next page into the buffer, or moves on to the next part of the audience.
    async fn refill(&mut self) -> Result<(), StoreError> {
        let (store, company, a) = (self.store, self.company, self.audience);
        match &mut self.stage {
            Stage::Subscribers(i) => match a.subscriber_ids.get(*i) {
                Some(&id) => {
                    *i += 1;
                    self.buf.push_back(
                        match store.get_subscriber(company, SubscriberId(id)).await? {
                            Some(s) => subscriber(s),
                            None => {
                                skip("unknown", format!("subscriber {id}"), "no such subscriber")
                            }
                        },
                    );
                }
                None => {
                    self.stage = Stage::Groups {
                        index: 0,
                        cursor: None,
                        started: false,
                    }
                }
            },
            Stage::Groups {
                index,
                cursor,
                started,
            } => {
                let Some(&g) = a.group_ids.get(*index) else {
                    self.stage = Stage::Customers(0);
                    return Ok(());
                };
                if !*started {
                    if store.get_group(company, GroupId(g)).await?.is_none() {
                        self.buf
                            .push_back(skip("unknown", format!("group {g}"), "no such group"));
                        *index += 1;
                        return Ok(());
                    }
                    *started = true;
                }
                let q = ListQuery {
                    limit: Some(MAX_LIMIT),
                    group_id: Some(GroupId(g)),
                    cursor: cursor.take(),
                    ..ListQuery::default()
                };
                let page = store.list_subscribers(company, &q).await?;
                self.buf.extend(page.items.into_iter().map(subscriber));
                match page.next_cursor {
                    Some(c) => *cursor = Some(c),
                    None => {
                        *index += 1;
                        *started = false;
                    }
                }
            }
            Stage::Customers(i) => match a.customer_ids.get(*i) {
                Some(&id) => {
                    *i += 1;
                    match store
                        .get_customer_account(company, CustomerAccountId(id))
                        .await?
                    {
                        Some(account) => {
                            let account = Arc::new(account);
                            self.buf
                                .extend(account.phones.iter().map(|p| Candidate::Send {
                                    to: Recipient::Msisdn(p.clone()),
                                    fields: Fields::Customer(Arc::clone(&account)),
                                }));
                        }
                        None => self.buf.push_back(skip(
                            "unknown",
                            format!("customer account {id}"),
                            "no such customer account",
                        )),
                    }
                }
                None => self.stage = Stage::Numbers(0),
            },
            Stage::Numbers(i) => {
                if *i >= a.numbers.len() {
                    self.stage = Stage::Tckns(0);
                    return Ok(());
                }
                let page = *i..a.numbers.len().min(*i + INPUT_PAGE);
                *i = page.end;
                let country = self.country;
                self.buf.extend(page.filter_map(|k| a.numbers.get(k)).map(
                    |n| match Msisdn::parse(n, country) {
                        Ok(p) => Candidate::Send {
                            to: Recipient::Msisdn(p),
                            fields: Fields::Number,
                        },
                        Err(e) => skip(
                            "unknown",
                            n.trim().to_owned(),
                            format!("invalid number: {e}"),
                        ),
                    },
                ));
            }
            Stage::Tckns(i) => {
                if *i >= a.tckns.len() {
                    self.stage = Stage::Done;
                    return Ok(());
                }
                let page = *i..a.tckns.len().min(*i + INPUT_PAGE);
                *i = page.end;
                self.buf
                    .extend(
                        page.filter_map(|k| a.tckns.get(k))
                            .map(|t| match Tckn::parse(t) {
                                Ok(id) => Candidate::Send {
                                    to: Recipient::Tckn(id),
                                    fields: Fields::None,
                                },
                                Err(e) => skip(
                                    "unknown",
                                    t.trim().to_owned(),
                                    format!("invalid TC ID number: {e}"),
                                ),
                            }),
                    );
            }
            Stage::Done => {}
        }
        Ok(())
    }
}

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

/// A campaign's setup (provider account, sender, template, opt-out list) and the recipients
/// planned so far: turns candidates into messages, one at a time.
pub struct Planner {
    country: CountryType,
    provider: ProviderAccount,
    sender: SenderName,
    /// The TC-ID header when the company's TC-ID subscription is active.
    tckn_sender: Option<SenderName>,
    body: TemplateBody,
    scheduled_at: Option<i64>,
    valid_until: i64,
    opted_out: HashSet<u64>,
    seen: HashSet<u64>,
}

impl Planner {
    /// Loads the setup of `campaign` as the data stands now.
    pub async fn new(store: &Store, campaign: &Campaign) -> Result<Self, PlanError> {
        let company = campaign.company_id;
        let settings = store
            .get_sms_settings(company)
            .await?
            .ok_or(StoreError::NotFound)?;
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
                message: "not one of the company's sender headers (or no default is set)"
                    .to_owned(),
            })?;
        let body = TemplateBody::parse(&campaign.body).map_err(|e| PlanError::Setup {
            field: "text",
            message: e.to_string(),
        })?;
        let mut opted_out: HashSet<u64> = HashSet::new();
        let mut q = ListQuery {
            limit: Some(MAX_LIMIT),
            ..ListQuery::default()
        };
        loop {
            let page = store.list_opt_outs(company, &q).await?;
            opted_out.extend(page.items.iter().map(|o| digits(o.phone.e164())));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let now = crate::worker::now_ms();
        // Checked: a schedule stored before schedules were bounded may be anything.
        let valid_until =
            valid_until(campaign.scheduled_at, now, campaign.validity_s).ok_or_else(|| {
                PlanError::Setup {
                    field: "scheduled_at",
                    message: "the send time and validity pass the largest possible time".to_owned(),
                }
            })?;
        Ok(Planner {
            country: settings.country_type,
            tckn_sender: settings
                .tckn_sender
                .filter(|_| settings.tckn_subscription_active),
            provider,
            sender,
            body,
            scheduled_at: campaign.scheduled_at,
            valid_until,
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
        Candidates::new(store, company, audience, self.country)
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
            return skipped("on the opt-out list".into());
        }
        let sender = match &to {
            Recipient::Tckn(_) => match &self.tckn_sender {
                Some(h) => h.clone(),
                None => {
                    return skipped(
                        "TC ID sends need an active TC-ID subscription and header".into(),
                    );
                }
            },
            Recipient::Msisdn(_) => self.sender.clone(),
        };
        let text = match self.body.render(|f| fields.get(&to, f)) {
            Ok(t) => t,
            Err(missing) => return skipped(format!("no value for {}", missing.0.join(", "))),
        };
        let address = to.address();
        match NewMessage::new(
            to,
            sender,
            &text,
            self.provider.text_policy,
            1,
            Some(self.provider.id),
            self.scheduled_at,
            self.valid_until,
        ) {
            Ok(m) => Decision::Message(m),
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
    fn remember_stored(&mut self, kind: &str, address: &str) {
        self.seen.insert(stored_key(kind, address));
    }
}

/// Plans the whole audience; the list of skipped recipients is kept when `keep_skipped`, else
/// only counted. Returns the plan and the number skipped.
async fn survey(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    keep_skipped: bool,
) -> Result<(Plan, u64), PlanError> {
    let mut planner = Planner::new(store, campaign).await?;
    planner.expect(audience);
    let mut source = planner.candidates(store, campaign.company_id, audience);
    let mut plan = Plan::default();
    let mut skipped = 0u64;
    while let Some(c) = source.next().await? {
        match planner.decide(c) {
            Decision::Message(m) => {
                plan.recipients += 1;
                plan.segments += u64::from(m.segments);
                plan.cost = plan
                    .cost
                    .checked_add(m.cost)
                    .ok_or_else(|| PlanError::Setup {
                        field: "audience",
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
    Ok((plan, skipped))
}

/// Builds the plan of `campaign` as the data stands now (the messages are counted and priced,
/// not kept).
pub async fn plan(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Plan, PlanError> {
    Ok(survey(store, campaign, audience, true).await?.0)
}

/// How a start or a resume writes the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Candidates per chunk (queued, skipped and duplicates alike); each chunk is one
    /// transaction.
    pub size: usize,
    /// Stop after this many chunks and leave the rest to a resume (tests); `None`: all.
    pub limit: Option<usize>,
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking {
            size: CHUNK,
            limit: None,
        }
    }
}

fn insufficient(cost: i64, balance: i64) -> String {
    format!("insufficient credit: it needs {cost}, the balance is {balance}; add credit and resume")
}

/// Starts a draft (or a campaign paused before anything was queued): plans it, and either
/// queues its messages with one credit reservation and records the skipped recipients, or —
/// when the balance cannot cover it — pauses it saying so. Returns once every recipient is
/// queued; the messages are handed out from the first chunk on.
pub async fn start(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Campaign, PlanError> {
    start_with(store, campaign, audience, Chunking::default()).await
}

/// [`start`] with the given chunking.
///
/// Pass 1 plans the whole audience keeping only totals; one transaction then reserves the
/// total cost, makes the campaign `running` and sets its queueing cursor to 0; pass 2
/// ([`queue_with`]) plans the audience again and writes it chunk by chunk.
pub async fn start_with(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    chunking: Chunking,
) -> Result<Campaign, PlanError> {
    let company = campaign.company_id;
    let (plan, skipped) = survey(store, campaign, audience, false).await?;
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
        return Ok(pause(insufficient(plan.cost, balance)).await?);
    }
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    match store
        .begin_campaign_queueing(
            company,
            campaign.id,
            count(plan.recipients),
            count(skipped),
            plan.cost,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::InsufficientCredit { balance, .. }) => {
            return Ok(pause(insufficient(plan.cost, balance)).await?);
        }
        Err(e) => return Err(e.into()),
    }
    write_from(store, campaign, audience, 0, chunking).await?;
    current(store, campaign).await
}

/// The campaign as stored now. Its audience is not read again (a million pasted numbers are
/// 15 MB of JSON, and reading them costs several times that): it is `campaign`'s.
async fn current(store: &Store, campaign: &Campaign) -> Result<Campaign, PlanError> {
    let mut c = store
        .get_campaign_lean(campaign.company_id, campaign.id)
        .await?
        .ok_or(StoreError::NotFound)?;
    c.audience.clone_from(&campaign.audience);
    Ok(c)
}

/// Queues what is left of a started campaign's audience, from its cursor (pass 2 of a start,
/// or its continuation after a crash or a halt). Returns the campaign as it then stands.
pub async fn queue(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Campaign, PlanError> {
    queue_with(store, campaign, audience, Chunking::default()).await
}

/// [`queue`] with the given chunking.
pub async fn queue_with(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    chunking: Chunking,
) -> Result<Campaign, PlanError> {
    if let Some(q) = store
        .campaign_queueing(campaign.company_id, campaign.id)
        .await?
        && q.queueing == QUEUEING_ACTIVE
    {
        write_from(store, campaign, audience, q.queued_pos, chunking).await?;
    }
    current(store, campaign).await
}

/// Pass 2 of a start, or its continuation, from cursor `pos`. Returns when the queueing is
/// done, halted, taken over by another writer or cancelled (or after `chunking.limit`
/// chunks); the caller reads the campaign as it then stands.
///
/// The first `pos` candidates were written by an earlier writer: they are only counted
/// as seen (no rendering, no writes), and so is every recipient the campaign already has a
/// message for, in case the audience's data moved since. Then each chunk of `chunking.size`
/// candidates is written in one transaction that moves the cursor only if it is still where
/// this writer found it; if it is not (another node took over, the campaign was cancelled)
/// this writer stops. A chunk that costs more than is left of the start's reservation reserves
/// the excess; if the balance cannot cover it the queueing halts with the campaign paused
/// until a resume. The last chunk releases what is left of the reservation.
async fn write_from(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    mut pos: i64,
    chunking: Chunking,
) -> Result<(), PlanError> {
    let (company, id) = (campaign.company_id, campaign.id);
    let halt = |pos: i64, reason: String| async move {
        // Not halted when the cursor moved meanwhile: then another writer carries on.
        store
            .halt_campaign_queueing(company, id, pos, &reason)
            .await
            .map(drop)
            .map_err(PlanError::from)
    };
    let mut planner = match Planner::new(store, campaign).await {
        Ok(p) => p,
        Err(PlanError::Setup { field, message }) => {
            return halt(
                pos,
                format!("queueing stopped: {field}: {message}; fix it and resume"),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    planner.expect(audience);
    let mut source = planner.candidates(store, company, audience);

    // Replay up to the cursor, saying now and then that this writer is at work.
    let mut replayed = 0i64;
    let mut touched = Instant::now();
    while replayed < pos {
        let Some(c) = source.next().await? else {
            break;
        };
        planner.replay(&c);
        replayed += 1;
        if touched.elapsed() >= TOUCH_EVERY {
            if !store.touch_campaign_queueing(company, id, pos).await? {
                return Ok(());
            }
            touched = Instant::now();
        }
    }
    if pos > 0 {
        if !store.touch_campaign_queueing(company, id, pos).await? {
            return Ok(());
        }
        store
            .for_each_campaign_recipient(company, id, |kind, address| {
                planner.remember_stored(kind, address);
            })
            .await?;
    }

    let size = chunking.size.max(1);
    let mut messages: Vec<NewMessage> = Vec::new();
    let mut skipped: Vec<SkippedRow> = Vec::new();
    let mut taken = 0usize;
    let mut chunks = 0usize;
    loop {
        let next = source.next().await?;
        let end = next.is_none();
        if let Some(c) = next {
            taken += 1;
            match planner.decide(c) {
                Decision::Message(m) => messages.push(m),
                Decision::Skipped(s) => skipped.push((s.kind, s.address, s.reason)),
                Decision::Duplicate => {}
            }
        }
        if taken == size || (end && taken > 0) {
            let new_pos = pos + i64::try_from(taken).unwrap_or(i64::MAX);
            match store
                .queue_campaign_chunk(company, id, pos, new_pos, &messages, &skipped)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(StoreError::InsufficientCredit { balance, amount }) => {
                    return halt(
                        pos,
                        format!(
                            "insufficient credit: the recipients added since the start need {} \
                             more, the balance is {balance}; add credit and resume",
                            amount.unsigned_abs()
                        ),
                    )
                    .await;
                }
                Err(e) => return Err(e.into()),
            }
            pos = new_pos;
            taken = 0;
            messages.clear();
            skipped.clear();
            chunks += 1;
            if !end && chunking.limit.is_some_and(|l| chunks >= l) {
                return Ok(());
            }
        }
        if end {
            break;
        }
    }
    // The dedupe set goes before the end's reads.
    drop(source);
    drop(planner);
    store.finish_campaign_queueing(company, id, pos).await?;
    Ok(())
}

/// Resumes a paused campaign: one paused for credit before anything was queued starts now;
/// one whose queueing halted (credit ran short, the setup broke) runs again and its queueing
/// goes on from the cursor (returning once it is done); any other just runs again.
pub async fn resume(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Campaign, PlanError> {
    if campaign.state == "paused" && campaign.started_at.is_none() {
        return start(store, campaign, audience).await;
    }
    let (company, id) = (campaign.company_id, campaign.id);
    let before = store.campaign_queueing(company, id).await?;
    let c = store
        .set_campaign_state(company, id, &["paused"], "running", None)
        .await?;
    // Only the request that turned a halted queueing active goes on with it (a concurrent
    // second resume finds the campaign running and fails above).
    if before.is_some_and(|q| q.queueing == QUEUEING_HALTED)
        && let Some(q) = store.campaign_queueing(company, id).await?
        && q.queueing == QUEUEING_ACTIVE
    {
        drop(c);
        write_from(store, campaign, audience, q.queued_pos, Chunking::default()).await?;
        return current(store, campaign).await;
    }
    Ok(c)
}

/// Takes up the queueing `q`, left by a writer that stopped (the supervisor's recovery), until
/// it is done or `stop` fires. An unreadable stored audience halts it.
pub async fn continue_queueing(store: Store, q: CampaignQueueing, stop: CancellationToken) {
    let (company, id, pos) = (q.company_id, q.campaign_id, q.queued_pos);
    let halt = |reason: String| {
        let store = store.clone();
        async move {
            if let Err(e) = store
                .halt_campaign_queueing(company, id, pos, &reason)
                .await
            {
                tracing::warn!(campaign = id, error = %e, "halting a campaign's queueing failed");
            }
        }
    };
    let mut campaign = match store.get_campaign(company, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(campaign = id, error = %e, "campaign queueing: loading the campaign failed; it will be taken up again");
            return;
        }
    };
    // The stored JSON is not needed once read (it can be megabytes).
    let json = std::mem::take(&mut campaign.audience);
    let parsed = serde_json::from_str::<Audience>(&json);
    drop(json);
    let audience = match parsed {
        Ok(a) => a,
        Err(e) => {
            return halt(format!(
                "queueing stopped: the stored audience is unreadable: {e}"
            ))
            .await;
        }
    };
    tracing::info!(campaign = id, from = pos, "taking up a campaign's queueing");
    tokio::select! {
        // Dropping the work mid-chunk rolls that chunk back; the next taker goes on from the
        // cursor.
        () = stop.cancelled() => {}
        r = write_from(&store, &campaign, &audience, pos, Chunking::default()) => match r {
            Ok(()) => tracing::info!(campaign = id, "campaign queueing taken up and left"),
            Err(e) => tracing::warn!(campaign = id, error = %e, "campaign queueing failed; it will be taken up again"),
        },
    }
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
