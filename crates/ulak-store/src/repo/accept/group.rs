//! The rules of one group commit, written once over [`AcceptTx`]: the database work is done
//! by a sqlx transaction (PostgreSQL, in-memory SQLite) or by the SQLite writer thread's own
//! connection (a SQLite file).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ulak_core::Code;
use ulak_core::model::{CompanyId, Message, MessageId, NewMessage, ValidationErrors};

use super::super::batch::due_state;
use super::super::idempotency::{Idempotency, Seen, StoredAnswer};
use super::super::messages::Enqueued;
use super::{Accepted, Item};
use crate::{Result, StoreError};

/// Moves company `$2`'s balance down by `$1` unless that would make it negative. (SQLite
/// numbers `$n` parameters by first appearance, and the writer thread binds by number: the
/// statements both paths share name theirs in order.)
pub(super) const TAKE_FROM_BALANCE: &str = "UPDATE companies SET credit_balance = credit_balance - $1 \
     WHERE id = $2 AND credit_balance >= $1";

/// The database work of accepting, inside the group's transaction.
pub(super) trait AcceptTx {
    /// Forgets `key` if it expired, then looks it up: the message and answer it made,
    /// `IdempotencyConflict` if it was used for another request.
    async fn seen(
        &mut self,
        company: CompanyId,
        key: &Idempotency<'_>,
        now: i64,
    ) -> Result<Option<Seen>>;
    /// The company's balance, its row locked where the database needs it, and which of
    /// `phones` are on its opt-out list.
    async fn balance_and_opt_outs(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<(Option<i64>, HashSet<String>)>;
    /// Takes `entries`' total from the balance ([`TAKE_FROM_BALANCE`]: `Err` when it has no
    /// room), writes them (amount, balance after) and the messages (queued, or scheduled
    /// with their event); the messages' ids in order. On PostgreSQL this also announces the
    /// messages' accounts to other nodes.
    async fn write_group(
        &mut self,
        company: CompanyId,
        entries: &[(i64, i64)],
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>>;
    /// Remembers `key` with the new message and the answer it builds.
    async fn remember(
        &mut self,
        company: CompanyId,
        key: &Idempotency<'_>,
        message: &Message,
        now: i64,
    ) -> Result<StoredAnswer>;
}

/// [`AcceptTx`]'s reads and writes one statement at a time, as SQLite runs them
/// ([`balance_and_opt_outs_apart`], [`write_group_apart`]); PostgreSQL runs each in one round
/// trip of its own.
pub(super) trait AcceptSteps {
    /// Which of `phones` are on the company's opt-out list.
    async fn opted_out_among(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<HashSet<String>>;
    /// The company's balance.
    async fn balance(&mut self, company: CompanyId) -> Result<Option<i64>>;
    /// Runs [`TAKE_FROM_BALANCE`]; returns the rows it changed.
    async fn take_from_balance(&mut self, company: CompanyId, total: i64) -> Result<u64>;
    /// Writes one reservation per entry (amount, balance after).
    async fn add_reservations(
        &mut self,
        company: CompanyId,
        entries: &[(i64, i64)],
        now: i64,
    ) -> Result<()>;
    /// Inserts the messages; their ids in order.
    async fn insert_messages(
        &mut self,
        company: CompanyId,
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>>;
}

/// [`AcceptTx::balance_and_opt_outs`] in two reads.
pub(super) async fn balance_and_opt_outs_apart<T: AcceptSteps>(
    db: &mut T,
    company: CompanyId,
    phones: &[&str],
) -> Result<(Option<i64>, HashSet<String>)> {
    let out = match phones {
        [] => HashSet::new(),
        _ => db.opted_out_among(company, phones).await?,
    };
    Ok((db.balance(company).await?, out))
}

/// [`AcceptTx::write_group`] in three statements.
pub(super) async fn write_group_apart<T: AcceptSteps>(
    db: &mut T,
    company: CompanyId,
    entries: &[(i64, i64)],
    news: &[NewMessage],
    now: i64,
) -> Result<Vec<MessageId>> {
    let total: i64 = entries.iter().map(|(a, _)| -a).sum();
    // The balance was checked under the company's lock; the update checks again, so a
    // mistake there cannot make it negative.
    if db.take_from_balance(company, total).await? != 1 {
        return Err(balance_moved());
    }
    db.add_reservations(company, entries, now).await?;
    db.insert_messages(company, news, now).await
}

/// The balance update found no room for what was checked under the company's lock.
pub(super) fn balance_moved() -> StoreError {
    StoreError::Corrupt {
        what: "companies.credit_balance",
    }
}

/// Accepts `items` inside `db`'s transaction, company by company in id order (so groups
/// committing at once, on other nodes, take the companies' rows in the same order). Returns the answers in `items`'
/// order and the accounts that got new messages. `Err` when the group as a whole failed:
/// the caller rolls back.
pub(super) async fn accept_all<T: AcceptTx>(
    db: &mut T,
    items: &[&Item],
    now: i64,
) -> Result<(Vec<Result<Accepted>>, Vec<i64>)> {
    let mut by_company: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        by_company.entry(item.company.0).or_default().push(i);
    }
    let mut results: Vec<Option<Result<Accepted>>> = (0..items.len()).map(|_| None).collect();
    for (company, mine) in by_company {
        let group = CompanyGroup {
            company: CompanyId(company),
            items,
            mine: &mine,
            now,
        };
        group.accept(db, &mut results).await?;
    }
    let mut accounts = BTreeSet::new();
    for (r, item) in results.iter().zip(items) {
        if let (Some(Ok(Accepted::New(_))), Some(p)) = (r, item.new.provider) {
            accounts.insert(p.0);
        }
    }
    let results = results
        .into_iter()
        .map(|r| r.unwrap_or(Err(StoreError::Closed)))
        .collect();
    Ok((results, accounts.into_iter().collect()))
}

/// What happens to one message of a group, decided before anything is written.
enum Plan {
    /// Queue it.
    Queue,
    /// An earlier message of the group has the same new key and request: its replay.
    SameAs(usize),
}

/// The messages of one company in a group.
struct CompanyGroup<'a> {
    company: CompanyId,
    items: &'a [&'a Item],
    /// Indexes into `items`, in order.
    mine: &'a [usize],
    now: i64,
}

impl CompanyGroup<'_> {
    /// Decides and writes this company's messages, filling their `results`: per message the
    /// same checks in the same order as a lone accept (its key, then the balance left), then
    /// one balance update, the ledger's entries (one reservation per message, as ever) and
    /// the messages.
    async fn accept<T: AcceptTx>(
        &self,
        db: &mut T,
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<()> {
        let mut plans: Vec<(usize, Plan)> = Vec::new();
        let mut new_keys: HashMap<&str, (&str, usize)> = HashMap::new();
        for &i in self.mine {
            let Some(key) = &self.items[i].key else {
                plans.push((i, Plan::Queue));
                continue;
            };
            if let Some(&(hash, first)) = new_keys.get(key.key.as_str()) {
                if hash == key.request_hash {
                    plans.push((i, Plan::SameAs(first)));
                } else {
                    results[i] = Some(Err(StoreError::IdempotencyConflict));
                }
                continue;
            }
            match db.seen(self.company, &key.borrowed(), self.now).await {
                Ok(Some((id, answer))) => results[i] = Some(Ok(Accepted::Seen(id, answer))),
                Ok(None) => {
                    new_keys.insert(&key.key, (&key.request_hash, i));
                    plans.push((i, Plan::Queue));
                }
                Err(e @ StoreError::IdempotencyConflict) => results[i] = Some(Err(e)),
                Err(e) => return Err(e),
            }
        }
        let balance = self.refuse_opted_out(db, &mut plans, results).await?;
        let (taken, entries) = self.reserve(balance, &plans, results);
        if taken.is_empty() {
            return self.copy_to_repeats(&plans, results);
        }
        let news: Vec<NewMessage> = taken.iter().map(|&i| self.items[i].new.clone()).collect();
        let ids = db
            .write_group(self.company, &entries, &news, self.now)
            .await?;
        for (&i, id) in taken.iter().zip(ids) {
            let message = accepted_message(id, self.company, &self.items[i].new, self.now);
            let answer = match &self.items[i].key {
                Some(k) => Some(
                    db.remember(self.company, &k.borrowed(), &message, self.now)
                        .await?,
                ),
                None => None,
            };
            results[i] = Some(Ok(Accepted::New(Enqueued {
                message,
                replayed: false,
                answer,
            })));
        }
        self.copy_to_repeats(&plans, results)
    }

    /// Refuses the messages to be queued whose number is on the opt-out list now (one read
    /// for the company's part of the group, with its balance); returns the balance.
    async fn refuse_opted_out<T: AcceptTx>(
        &self,
        db: &mut T,
        plans: &mut Vec<(usize, Plan)>,
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<i64> {
        let asked: Vec<String> = plans
            .iter()
            .filter(|(i, p)| matches!(p, Plan::Queue) && self.items[*i].new.unless_opted_out)
            .map(|(i, _)| self.items[*i].new.recipient.address())
            .collect();
        let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
        let (balance, out) = db.balance_and_opt_outs(self.company, &asked).await?;
        let balance = balance.ok_or(StoreError::NotFound)?;
        if out.is_empty() {
            return Ok(balance);
        }
        plans.retain(|(i, p)| {
            let new = &self.items[*i].new;
            let refused = matches!(p, Plan::Queue)
                && new.unless_opted_out
                && out.contains(&new.recipient.address());
            if refused {
                results[*i] = Some(Err(StoreError::Validation(ValidationErrors::single(
                    "to",
                    Code::PhoneOptedOut,
                    "the number is on the opt-out list",
                ))));
            }
            !refused
        });
        Ok(balance)
    }

    /// Takes each queued message's cost from `left` (the balance) in order, refusing the
    /// ones it no longer covers. Returns the messages taken and their ledger entries (amount,
    /// balance after), for [`AcceptTx::write_group`].
    fn reserve(
        &self,
        mut left: i64,
        plans: &[(usize, Plan)],
        results: &mut [Option<Result<Accepted>>],
    ) -> (Vec<usize>, Vec<(i64, i64)>) {
        let mut taken = Vec::new();
        let mut entries: Vec<(i64, i64)> = Vec::new();
        for (i, plan) in plans {
            if !matches!(plan, Plan::Queue) {
                continue;
            }
            let cost = self.items[*i].new.cost;
            if cost < 0 || cost > left {
                results[*i] = Some(Err(StoreError::InsufficientCredit {
                    balance: left,
                    amount: -cost,
                }));
                continue;
            }
            left -= cost;
            entries.push((-cost, left));
            taken.push(*i);
        }
        (taken, entries)
    }

    /// A repeat of a new key within the group answers what its first got (a refusal too).
    fn copy_to_repeats(
        &self,
        plans: &[(usize, Plan)],
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<()> {
        for (i, plan) in plans {
            let Plan::SameAs(first) = plan else { continue };
            results[*i] = Some(match &results[*first] {
                Some(Ok(Accepted::New(e))) => Ok(Accepted::Seen(e.message.id.0, e.answer.clone())),
                Some(Err(StoreError::InsufficientCredit { balance, amount })) => {
                    Err(StoreError::InsufficientCredit {
                        balance: *balance,
                        amount: *amount,
                    })
                }
                Some(Err(StoreError::Validation(v))) => Err(StoreError::Validation(v.clone())),
                _ => Err(StoreError::IdempotencyConflict),
            });
        }
        Ok(())
    }
}

/// The message as its row was just written.
fn accepted_message(id: MessageId, company: CompanyId, new: &NewMessage, now: i64) -> Message {
    let (state, due) = due_state(new, now);
    Message {
        id,
        company_id: company,
        campaign_id: None,
        provider_account_id: new.provider,
        route_id: new.route,
        recipient_kind: new.recipient.kind().to_owned(),
        recipient: new.recipient.address(),
        sender: new.sender.as_str().to_owned(),
        body: new.body.clone(),
        encoding: new.encoding.clone(),
        segments: new.segments,
        cost: new.cost,
        state,
        state_at: now,
        state_reason: None,
        attempts: 0,
        next_attempt_at: due,
        valid_until: new.valid_until,
        error_code: None,
        created_at: now,
        submitted_at: None,
        final_at: None,
        class: new.class,
    }
}
