//! Listing what was sent: a company's messages newest first with filters, a campaign's
//! messages oldest first in pages for its CSV export, and the delivery reports kept without
//! a message.
//!
//! Pages are keyset reads on (created_at, id): every filter has an index that ends in those
//! two columns (migration 0014), so the first and the millionth page cost the same.
//!
//! SQLite is told which index to read (`INDEXED BY`): the first given of recipient,
//! campaign (with the state, when given), sender, state, else the company's. Each of these
//! holds only rows its filter matches, so it never reads more than the company's index
//! would; the other filters are checked on the rows it finds. Left to itself, SQLite chose
//! the company's index for a state and a time range once an `ANALYZE` had run, reading every
//! message of the range to find the few failed ones. PostgreSQL plans with its statistics,
//! which the engine keeps fresh (`refresh_statistics`); hiding filters from it (`col || ''`)
//! made it misjudge how many rows match and sort a whole campaign.

use sqlx::any::AnyRow;
use ulak_core::model::{CompanyId, ListQuery, MessageState, Page, encode_cursor};

use crate::db::{Param, bind_all, col, parse};
use crate::{Backend, Result, Store, StoreError};

/// What to list; `None` is no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// In this state.
    pub state: Option<MessageState>,
    /// Of this campaign (the company's: another company's lists nothing).
    pub campaign: Option<i64>,
    /// To this recipient as stored: E.164, or the 11 digits of a TC ID number.
    pub recipient: Option<String>,
    /// From this sender header.
    pub sender: Option<String>,
    /// Created at or after (unix ms).
    pub from: Option<i64>,
    /// Created before (unix ms).
    pub to: Option<i64>,
}

/// Where a page of messages starts: after the message created at `created_at` with `id`
/// (in the page's order). Its text form (`m<hex>.<hex>`) is opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageCursor {
    /// The last row's `created_at`.
    pub created_at: i64,
    /// The last row's id.
    pub id: i64,
}

/// The pattern every cursor [`MessageCursor::encode`] writes matches, and every text it
/// matches decodes: two non-negative `i64` in lower-case hex.
pub const MESSAGE_CURSOR_PATTERN: &str =
    r"^m([0-9a-f]{1,15}|[0-7][0-9a-f]{15})\.([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$";

impl MessageCursor {
    /// `m<created_at hex>.<id hex>`. Times before 1970 are not written by this server; they
    /// would be read as 0.
    pub fn encode(&self) -> String {
        format!("m{:x}.{:x}", self.created_at.max(0), self.id.max(0))
    }

    /// Reverses [`encode`](Self::encode); `None` for anything else.
    pub fn decode(s: &str) -> Option<MessageCursor> {
        let (at, id) = s.strip_prefix('m')?.split_once('.')?;
        let hex = |h: &str| {
            let ok = !h.is_empty()
                && h.len() <= 16
                && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            ok.then(|| i64::from_str_radix(h, 16).ok()).flatten()
        };
        Some(MessageCursor {
            created_at: hex(at)?,
            id: hex(id)?,
        })
    }
}

/// A message as lists show it: no text, no history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// Id.
    pub id: i64,
    /// The campaign it belongs to.
    pub campaign_id: Option<i64>,
    /// State.
    pub state: MessageState,
    /// Why it is in this state.
    pub state_reason: Option<String>,
    /// Since when (unix ms).
    pub state_at: i64,
    /// `msisdn` or `tckn`.
    pub recipient_kind: String,
    /// E.164 or the TC ID number.
    pub recipient: String,
    /// Sender header.
    pub sender: String,
    /// Segments (0 for a skipped campaign recipient).
    pub segments: u32,
    /// Credits.
    pub cost: i64,
    /// The operator's error code.
    pub error_code: Option<String>,
    /// Accepted (unix ms).
    pub created_at: i64,
    /// Submitted (unix ms).
    pub submitted_at: Option<i64>,
    /// Final (unix ms).
    pub final_at: Option<i64>,
    /// The account it goes (or went) through.
    pub provider_account_id: Option<i64>,
    /// The route that chose the account (`None`: no route).
    pub route_id: Option<i64>,
}

impl MessageSummary {
    /// The cursor of the page after this row.
    pub fn cursor(&self) -> MessageCursor {
        MessageCursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A delivery report that matched no message of the company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedReceipt {
    /// Id.
    pub id: i64,
    /// The provider account it came through.
    pub provider_account_id: i64,
    /// The operator's message id it names.
    pub operator_id: String,
    /// The state it reports.
    pub state: MessageState,
    /// The operator's error code.
    pub error_code: Option<String>,
    /// Received (unix ms).
    pub received_at: i64,
}

const COLS: &str = "id, campaign_id, state, state_reason, state_at, recipient_kind, recipient, \
    sender, segments, cost, error_code, created_at, submitted_at, final_at, provider_account_id, \
    route_id";

fn summary(r: &AnyRow) -> Result<MessageSummary> {
    let segments = u32::try_from(col::<i64>(r, "segments")?)
        .map_err(|_| StoreError::Corrupt { what: "messages" })?;
    Ok(MessageSummary {
        id: col(r, "id")?,
        campaign_id: col(r, "campaign_id")?,
        state: parse(&col::<String>(r, "state")?, "messages.state")?,
        state_reason: col(r, "state_reason")?,
        state_at: col(r, "state_at")?,
        recipient_kind: col(r, "recipient_kind")?,
        recipient: col(r, "recipient")?,
        sender: col(r, "sender")?,
        segments,
        cost: col(r, "cost")?,
        error_code: col(r, "error_code")?,
        created_at: col(r, "created_at")?,
        submitted_at: col(r, "submitted_at")?,
        final_at: col(r, "final_at")?,
        provider_account_id: col(r, "provider_account_id")?,
        route_id: col(r, "route_id")?,
    })
}

/// Which index serves a filter: the first given of recipient, campaign, sender, state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lead {
    Recipient,
    Campaign,
    Sender,
    State,
    Company,
}

impl Lead {
    /// The index of migration 0014 it reads.
    fn index(self, f: &MessageFilter) -> &'static str {
        match self {
            Lead::Recipient => "messages_recipient",
            Lead::Campaign if f.state.is_some() => "messages_campaign",
            Lead::Campaign => "messages_campaign_time",
            Lead::Sender => "messages_sender",
            Lead::State => "messages_state",
            Lead::Company => "messages_company",
        }
    }
}

fn lead(f: &MessageFilter) -> Lead {
    if f.recipient.is_some() {
        Lead::Recipient
    } else if f.campaign.is_some() {
        Lead::Campaign
    } else if f.sender.is_some() {
        Lead::Sender
    } else if f.state.is_some() {
        Lead::State
    } else {
        Lead::Company
    }
}

/// The `SELECT` of a page of `company`'s messages matching `f`, after `after` in the
/// order, newest first (`newest_first`) or oldest first, with its parameters.
fn page_sql(
    backend: Backend,
    company: CompanyId,
    f: &MessageFilter,
    after: Option<MessageCursor>,
    newest_first: bool,
    limit: i64,
) -> (String, Vec<Param>) {
    let lead = lead(f);
    let mut params: Vec<Param> = Vec::new();
    let mut conds: Vec<String> = Vec::new();
    let mut add = |cond: &str, p: Param, params: &mut Vec<Param>| {
        params.push(p);
        conds.push(cond.replace('?', &format!("${}", params.len())));
    };
    add("company_id = ?", Param::I(company.0), &mut params);
    if let Some(r) = &f.recipient {
        add("recipient = ?", Param::S(r.clone()), &mut params);
    }
    if let Some(c) = f.campaign {
        add("campaign_id = ?", Param::I(c), &mut params);
    }
    if let Some(s) = &f.sender {
        add("sender = ?", Param::S(s.clone()), &mut params);
    }
    if let Some(s) = f.state {
        add("state = ?", Param::S(s.as_str().to_owned()), &mut params);
    }
    // One bound on each side of (created_at, id): a third comparison of created_at makes
    // SQLite prefer the company's index over the filter's.
    let (lower, upper) = if newest_first {
        let to = f.to.map(|t| MessageCursor {
            created_at: t,
            id: i64::MIN,
        });
        (
            f.from.map(|t| MessageCursor {
                created_at: t,
                id: i64::MIN,
            }),
            match (to, after) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        )
    } else {
        (after, None)
    };
    if let Some(l) = lower {
        // Newest first, `from` is inclusive; oldest first, the cursor row is excluded.
        if newest_first {
            add("created_at >= ?", Param::I(l.created_at), &mut params);
        } else {
            params.push(Param::I(l.created_at));
            params.push(Param::I(l.id));
            let n = params.len();
            conds.push(format!("(created_at, id) > (${}, ${n})", n - 1));
        }
    }
    if let Some(u) = upper {
        params.push(Param::I(u.created_at));
        params.push(Param::I(u.id));
        let n = params.len();
        conds.push(format!("(created_at, id) < (${}, ${n})", n - 1));
    }
    let order = if newest_first {
        "created_at DESC, id DESC"
    } else {
        "created_at, id"
    };
    let indexed = match backend {
        Backend::Sqlite => format!(" INDEXED BY {}", lead.index(f)),
        Backend::Postgres => String::new(),
    };
    let sql = format!(
        "SELECT {COLS} FROM messages{indexed} WHERE {} ORDER BY {order} LIMIT {limit}",
        conds.join(" AND ")
    );
    (sql, params)
}

impl Store {
    /// Whether campaign `id` is the company's.
    async fn owns_campaign(&self, company: CompanyId, id: i64) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM campaigns WHERE company_id = $1 AND id = $2")
                .bind(company.0)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// A page of the company's messages matching `filter`, newest first, after `after`.
    /// `limit` is 1 to 500 (the caller checks; outside is cut).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_messages(
        &self,
        company: CompanyId,
        filter: &MessageFilter,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Page<MessageSummary>> {
        let empty = Page {
            items: Vec::new(),
            next_cursor: None,
        };
        if let Some(c) = filter.campaign
            && !self.owns_campaign(company, c).await?
        {
            return Ok(empty);
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Ok(empty);
        }
        let limit = i64::from(limit.clamp(1, ulak_core::model::MAX_LIMIT));
        let (sql, params) = page_sql(self.backend, company, filter, after, true, limit + 1);
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params)
            .fetch_all(&self.pool)
            .await?;
        let mut items = rows.iter().map(summary).collect::<Result<Vec<_>>>()?;
        let more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = if more {
            items.last().map(|m| m.cursor().encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Up to `limit` messages of the company's campaign `campaign`, oldest first, after
    /// `after`: the pages a CSV export streams (one short read each, nothing held open
    /// between them). Empty for another company's campaign.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn campaign_messages_after(
        &self,
        company: CompanyId,
        campaign: i64,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>> {
        if after.is_none() && !self.owns_campaign(company, campaign).await? {
            return Ok(Vec::new());
        }
        let filter = MessageFilter {
            campaign: Some(campaign),
            ..MessageFilter::default()
        };
        let (sql, params) = page_sql(
            self.backend,
            company,
            &filter,
            after,
            false,
            i64::from(limit),
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary).collect()
    }

    /// The plan the database chooses for [`list_messages`](Self::list_messages) with
    /// `filter` (with a cursor when `paged`), one step per line: how tests and operators see
    /// which index a filter reads. SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`.
    #[doc(hidden)]
    pub async fn explain_list_messages(
        &self,
        company: CompanyId,
        filter: &MessageFilter,
        paged: bool,
    ) -> Result<String> {
        let after = paged.then_some(MessageCursor {
            created_at: i64::MAX / 2,
            id: i64::MAX / 2,
        });
        let (sql, params) = page_sql(self.backend, company, filter, after, true, 51);
        let explain = match self.backend {
            Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            Backend::Postgres => format!("EXPLAIN {sql}"),
        };
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(explain)), params)
            .fetch_all(&self.pool)
            .await?;
        let column = match self.backend {
            Backend::Sqlite => "detail",
            Backend::Postgres => "QUERY PLAN",
        };
        let lines = rows
            .iter()
            .map(|r| col::<String>(r, column))
            .collect::<Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }

    /// A page of the company's delivery reports that matched no message, newest first.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_unmatched_receipts(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<UnmatchedReceipt>> {
        let limit = i64::from(q.effective_limit());
        let before = q.after_id()?.unwrap_or(i64::MAX);
        let rows: Vec<(i64, i64, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, provider_account_id, operator_id, state, error_code, received_at \
             FROM receipts_unmatched WHERE company_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(company.0)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > limit;
        let items = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(
                |(id, provider, operator_id, state, error_code, received_at)| {
                    Ok(UnmatchedReceipt {
                        id,
                        provider_account_id: provider,
                        operator_id,
                        state: parse(&state, "receipts_unmatched.state")?,
                        error_code,
                        received_at,
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if more {
            items.last().map(|r| encode_cursor(r.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = MessageCursor {
            created_at: 1_796_411_730_250,
            id: 42,
        };
        assert_eq!(MessageCursor::decode(&c.encode()), Some(c));
        let max = MessageCursor {
            created_at: i64::MAX,
            id: i64::MAX,
        };
        assert_eq!(MessageCursor::decode(&max.encode()), Some(max));
        for bad in [
            "",
            "m",
            "m1",
            "m1.",
            "m.1",
            "c1",
            "m1.1.1",
            "mA.1",
            "m1.-1",
            "m8000000000000000.1",
            "m1.00000000000000001",
        ] {
            assert_eq!(MessageCursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_filter_leads_with_its_own_index() {
        let f = MessageFilter {
            state: Some(MessageState::Failed),
            recipient: Some("+905321234567".into()),
            sender: Some("ULAK".into()),
            ..MessageFilter::default()
        };
        let (sql, params) = page_sql(Backend::Postgres, CompanyId(1), &f, None, true, 51);
        assert!(
            sql.contains("recipient = $2 AND sender = $3 AND state = $4"),
            "{sql}"
        );
        assert!(!sql.contains("INDEXED BY"), "{sql}");
        assert_eq!(params.len(), 4);
        let (sql, _) = page_sql(Backend::Sqlite, CompanyId(1), &f, None, true, 51);
        assert!(sql.contains("INDEXED BY messages_recipient"), "{sql}");
        // `to` and the cursor make one upper bound: the lower of the two.
        let f = MessageFilter {
            to: Some(100),
            from: Some(10),
            ..MessageFilter::default()
        };
        let after = MessageCursor {
            created_at: 50,
            id: 7,
        };
        let (sql, _) = page_sql(Backend::Sqlite, CompanyId(1), &f, Some(after), true, 51);
        assert_eq!(sql.matches("created_at").count(), 4, "{sql}");
        assert!(sql.contains("(created_at, id) < ($3, $4)"), "{sql}");
        assert!(
            sql.contains("FROM messages INDEXED BY messages_company WHERE"),
            "{sql}"
        );
    }
}
