//! A claim on the SQLite writer thread ([`crate::sqlite_writer`], decision 0010): the same
//! statements as the sqlx path ([`super::messages`]), run in place as one closure. Through
//! sqlx the rows of a claim of a thousand crossed to the caller fifty at a time, each batch
//! waiting for the caller's task, while the claim held the one writer connection and the
//! accepts waited behind it.

use std::sync::{Arc, LazyLock};

use rusqlite::named_params;
use tokio::sync::oneshot;
use ulak_core::model::{CompanyId, Message, MessageId, ProviderAccountId, RouteId, TrafficClass};

use super::messages::{Claim, DUE_DETAIL, DUE_NOW, claim_statement};
use crate::db::parse;
use crate::sqlite_writer::SqliteWriter;
use crate::{Result, Store, StoreError};

/// The claim's statement on SQLite, built once.
static CLAIM: LazyLock<String> = LazyLock::new(|| claim_statement(""));

/// Rows one transaction of a claim takes at most. A claim of a thousand held the writer for
/// 6 ms on average and up to 29 ms, and every accept group queued behind it waited as long
/// (decision 0010, point 21); in pieces, accepts queued meanwhile commit between them.
const PIECE: i64 = 250;

/// Claims as [`crate::Store::claim_messages`] does, in transactions of at most [`PIECE`]
/// rows on the writer thread (in the file's one line of writes), until the limit is reached
/// or a piece comes back short. A later piece that fails ends the claim with what the earlier
/// ones took: those rows are leased to the caller and must reach it.
///
/// The pieces run in a task of their own: a caller that goes away between them (a worker
/// stopping, a timeout) would otherwise leave what the earlier pieces took leased to nobody
/// until the lease ran out. The task stops at the next piece and gives back what was taken
/// ([`Store::release_claims`]: queued again, the attempt not counted).
pub(super) async fn claim(
    store: &Store,
    writer: &Arc<SqliteWriter>,
    c: Claim,
) -> Result<Vec<Message>> {
    let (answer, answered) = oneshot::channel();
    let mut waiting = Waiting {
        answered: Some(answered),
        store: store.clone(),
        owner: c.owner.clone(),
    };
    let (store, writer) = (store.clone(), Arc::clone(writer));
    tokio::spawn(async move {
        let owner = c.owner.clone();
        let got = pieces(&writer, c, &answer).await;
        if let Err(Ok(taken)) = answer.send(got) {
            give_back(&store, &owner, &taken).await;
        }
    });
    let Some(answered) = waiting.answered.as_mut() else {
        return Err(StoreError::Closed);
    };
    let got = answered.await;
    waiting.answered = None;
    got.map_err(|_| StoreError::Closed)?
}

/// The caller's end of a claim. Dropped before the answer was read, it closes the channel
/// (a piece ending later then fails to send, and its task gives back) and gives back an
/// answer that had already arrived.
struct Waiting {
    answered: Option<oneshot::Receiver<Result<Vec<Message>>>>,
    store: Store,
    owner: String,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(mut answered) = self.answered.take() else {
            return;
        };
        answered.close();
        if let Ok(Ok(taken)) = answered.try_recv()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (store, owner) = (self.store.clone(), std::mem::take(&mut self.owner));
            runtime.spawn(async move { give_back(&store, &owner, &taken).await });
        }
    }
}

/// The claim's pieces, while `answer`'s caller waits.
async fn pieces(
    writer: &SqliteWriter,
    c: Claim,
    answer: &oneshot::Sender<Result<Vec<Message>>>,
) -> Result<Vec<Message>> {
    let mut out: Vec<Message> = Vec::new();
    let mut first = true;
    loop {
        let taken = i64::try_from(out.len()).unwrap_or(i64::MAX);
        // The first piece runs even for a limit of 0: it also brings in due schedules.
        let want = c.limit.saturating_sub(taken).clamp(0, PIECE);
        if (want == 0 && !first) || answer.is_closed() {
            return Ok(out);
        }
        let piece = Claim {
            limit: want,
            ..c.clone()
        };
        let got = match writer.transaction(move |tx| run(tx, &piece, first)).await {
            Ok(got) => got,
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, claimed = out.len(), "a later piece of a claim failed; the claim keeps what it took");
                return Ok(out);
            }
        };
        first = false;
        let short = i64::try_from(got.len()).unwrap_or(0) < want;
        out.extend(got);
        if short || want == 0 {
            return Ok(out);
        }
    }
}

/// Gives back what a claim took for a caller that went away.
async fn give_back(store: &Store, owner: &str, taken: &[Message]) {
    if taken.is_empty() {
        return;
    }
    let ids: Vec<MessageId> = taken.iter().map(|m| m.id).collect();
    match store.release_claims(owner, &ids).await {
        Ok(n) => tracing::debug!(
            messages = n,
            "a claim whose caller went away gave back what it took"
        ),
        Err(e) => {
            tracing::warn!(error = %e, messages = ids.len(), "a claim whose caller went away could not give back what it took; it returns to the queue when its lease ends")
        }
    }
}

/// A piece of the claim's statements, on the thread; the first piece also queues the
/// scheduled messages whose time came.
fn run(tx: &rusqlite::Transaction<'_>, c: &Claim, first: bool) -> Result<Vec<Message>> {
    let due: Vec<i64> = if !first {
        Vec::new()
    } else {
        tx.prepare_cached(DUE_NOW)?
            .query_map(named_params! {"$1": c.provider.0, "$2": c.now}, |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?
    };
    if !due.is_empty() {
        let mut event = tx.prepare_cached(
            "INSERT INTO message_events (message_id, state, detail, at) \
             VALUES (?1, 'queued', ?2, ?3)",
        )?;
        for id in due {
            event.execute(rusqlite::params![id, DUE_DETAIL, c.now])?;
        }
    }
    let mut st = tx.prepare_cached(&CLAIM)?;
    let mut rows = st.query(named_params! {
        "$1": c.provider.0,
        "$2": c.now,
        "$3": c.owner,
        "$4": c.now.saturating_add(c.lease_ms),
        "$5": c.last.priority(),
        "$6": c.limit,
    })?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(message_at(r)?);
    }
    Ok(out)
}

/// A row of [`super::messages::COLS`], read by position: a lookup by name compares the names of
/// every column before it, for each of the 23 columns of a thousand rows.
fn message_at(r: &rusqlite::Row<'_>) -> Result<Message> {
    let small = |i: usize| -> Result<u32> {
        u32::try_from(r.get::<_, i64>(i)?).map_err(|_| StoreError::Corrupt { what: "messages" })
    };
    Ok(Message {
        id: MessageId(r.get(0)?),
        company_id: CompanyId(r.get(1)?),
        campaign_id: r.get(2)?,
        provider_account_id: r.get::<_, Option<i64>>(3)?.map(ProviderAccountId),
        recipient_kind: r.get(4)?,
        recipient: r.get(5)?,
        sender: r.get(6)?,
        body: r.get(7)?,
        encoding: r.get(8)?,
        segments: small(9)?,
        cost: r.get(10)?,
        state: parse(&r.get::<_, String>(11)?, "messages.state")?,
        state_reason: r.get(12)?,
        state_at: r.get(13)?,
        attempts: small(14)?,
        next_attempt_at: r.get(15)?,
        valid_until: r.get(16)?,
        error_code: r.get(17)?,
        created_at: r.get(18)?,
        submitted_at: r.get(19)?,
        final_at: r.get(20)?,
        class: TrafficClass::from_priority(r.get(21)?),
        route_id: r.get::<_, Option<i64>>(22)?.map(RouteId),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::repo::messages::COLS;

    /// The columns of [`COLS`] by position, as [`message_at`] reads them.
    const NAMES: [&str; 23] = [
        "id",
        "company_id",
        "campaign_id",
        "provider_account_id",
        "recipient_kind",
        "recipient",
        "sender",
        "body",
        "encoding",
        "segments",
        "cost",
        "state",
        "state_reason",
        "state_at",
        "attempts",
        "next_attempt_at",
        "valid_until",
        "error_code",
        "created_at",
        "submitted_at",
        "final_at",
        "priority",
        "route_id",
    ];

    /// [`message_at`] reads by position: the positions must be those of the statement's
    /// column list.
    #[test]
    fn positions_follow_the_column_list() {
        let listed: Vec<&str> = COLS.split(',').map(str::trim).collect();
        assert_eq!(listed, NAMES);
    }

    /// Each field comes from its own column: a row whose 23 columns all differ reads back
    /// field by field.
    #[test]
    fn each_field_is_read_from_its_column() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let cols: Vec<String> = NAMES.iter().map(|n| format!("{n} ANY")).collect();
        conn.execute_batch(&format!("CREATE TABLE m ({});", cols.join(", ")))
            .unwrap();
        conn.execute(
            "INSERT INTO m VALUES (1, 2, 3, 4, 'kind', 'to', 'from', 'body', 'enc', 5, 6, \
             'sending', 'reason', 7, 8, 9, 10, 'code', 11, 12, 13, 0, 14)",
            [],
        )
        .unwrap();
        let m = conn
            .query_row(&format!("SELECT {COLS} FROM m"), [], |r| {
                Ok(message_at(r).unwrap())
            })
            .unwrap();
        let read = (
            (m.id.0, m.company_id.0, m.campaign_id, m.provider_account_id),
            (&*m.recipient_kind, &*m.recipient, &*m.sender, &*m.body),
            (&*m.encoding, m.segments, m.cost, m.state),
            (m.state_reason.as_deref(), m.state_at, m.attempts),
            (m.next_attempt_at, m.valid_until, m.error_code.as_deref()),
            (
                m.created_at,
                m.submitted_at,
                m.final_at,
                m.class,
                m.route_id,
            ),
        );
        let expected = (
            (1, 2, Some(3), Some(ProviderAccountId(4))),
            ("kind", "to", "from", "body"),
            ("enc", 5, 6, ulak_core::model::MessageState::Sending),
            (Some("reason"), 7, 8),
            (9, 10, Some("code")),
            (11, Some(12), Some(13), TrafficClass::Otp, Some(RouteId(14))),
        );
        assert_eq!(read, expected);
    }

    /// On the writer thread's connection the claim keeps one plan, on the queue's index:
    /// without the planner's stability guarantee SQLite made the plan depend on the bound
    /// `LIMIT $6` and prepared the claim again on every use.
    #[tokio::test]
    async fn the_claim_is_prepared_once_and_reads_the_queue_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
        let store = crate::Store::connect(&url, [1; 32]).await.unwrap();
        let w = store.sqlite_writer.clone().unwrap();
        let (plan, reprepared) = w
            .run(|conn| {
                let values = |p: i64, now: i64| {
                    [
                        ("$1", p),
                        ("$2", now),
                        ("$3", 7),
                        ("$4", now + 1),
                        ("$5", 2),
                        ("$6", 10),
                    ]
                };
                fn bound<'v>(
                    v: &'v [(&'static str, i64)],
                ) -> Vec<(&'static str, &'v dyn rusqlite::ToSql)> {
                    v.iter()
                        .map(|(n, x)| (*n, x as &dyn rusqlite::ToSql))
                        .collect()
                }
                let plan: Vec<String> = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {}", *CLAIM))
                    .unwrap()
                    .query_map(&*bound(&values(1, 10)), |r| r.get(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                // Each runs to its end (a statement is prepared again, if at all, when
                // it steps).
                let run = |st: &mut rusqlite::CachedStatement<'_>, v: &[(&'static str, i64)]| {
                    let mut rows = st.query(&*bound(v)).unwrap();
                    while rows.next().unwrap().is_some() {}
                };
                let mut st = conn.prepare_cached(&CLAIM).unwrap();
                for (p, now) in [(1_i64, 10_i64), (2, 20), (3, 30), (4, 40)] {
                    run(&mut st, &values(p, now));
                }
                let n = st.get_status(rusqlite::StatementStatus::RePrepare);
                (plan, n)
            })
            .await
            .unwrap();
        assert_eq!(reprepared, 0, "prepared again on a new binding");
        assert!(
            plan.iter().any(|l| l.contains("USING INDEX messages_due")),
            "{plan:?}"
        );
        store.close().await;
    }

    /// The writer thread binds the shared statements' `$n` by name, as sqlx does by
    /// number: each must name exactly the parameters it is given.
    #[test]
    fn the_claim_binds_every_parameter_it_names() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, company_id, campaign_id, \
             provider_account_id, recipient_kind, recipient, sender, body, encoding, segments, \
             cost, state, state_reason, state_at, attempts, next_attempt_at, valid_until, \
             error_code, created_at, submitted_at, final_at, priority, route_id, lease_owner, \
             lease_until); CREATE TABLE opt_outs (company_id, phone); \
             CREATE TABLE campaigns (id, state);",
        )
        .unwrap();
        for (sql, n) in [(claim_statement(""), 6), (DUE_NOW.to_owned(), 2)] {
            let st = conn.prepare(&sql).unwrap();
            assert_eq!(st.parameter_count(), n);
            let mut names: Vec<String> = (1..=n)
                .map(|i| st.parameter_name(i).unwrap().to_owned())
                .collect();
            names.sort();
            let bound: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
            assert_eq!(names, bound, "{sql}");
        }
    }
}
