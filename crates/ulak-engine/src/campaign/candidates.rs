//! Where a campaign's recipients come from: the audience read a page at a time, each entry a
//! [`Candidate`] (a recipient with its template fields, or one skipped with the reason).

use std::collections::VecDeque;
use std::sync::Arc;

use ulak_core::model::{
    Attributes, CompanyId, Consent, CustomerAccount, CustomerAccountId, GroupId, ListQuery,
    MAX_LIMIT, Recipient, Subscriber, SubscriberId,
};
use ulak_core::{CountryType, Msisdn, Tckn};
use ulak_store::{Store, StoreError};

use super::{Audience, INPUT_PAGE, Skipped, lira, why};

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
    pub(super) fn get(&self, to: &Recipient, key: &str) -> Option<String> {
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
        skip("msisdn", s.phone.e164().to_owned(), why::OPTED_OUT)
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
                            None => skip(
                                "unknown",
                                format!("subscriber {id}"),
                                format!("{} subscriber", why::NO_SUCH),
                            ),
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
                        self.buf.push_back(skip(
                            "unknown",
                            format!("group {g}"),
                            format!("{} group", why::NO_SUCH),
                        ));
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
                            format!("{} customer account", why::NO_SUCH),
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
                            format!("{}: {e}", why::INVALID_NUMBER),
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
                                    format!("{}: {e}", why::INVALID_TCKN),
                                ),
                            }),
                    );
            }
            Stage::Done => {}
        }
        Ok(())
    }
}
