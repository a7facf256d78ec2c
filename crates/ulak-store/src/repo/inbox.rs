//! The inbox: inbound messages stored per company, linked to the subscriber with that number,
//! and opt-out keywords (default `RET`, `IPTAL`) that put the sender on the opt-out list at
//! once — which every later submit respects, queued and scheduled messages included.

use serde_json::json;
use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, ListQuery, Page, ProviderAccountId, SubscriberId, WebhookEventType, search_fold,
};
use ulak_core::{CountryType, Msisdn};

use super::webhooks::emit_event;
use crate::db::{ListSql, col, now_ms, parse, search_key};
use crate::{Result, Store, StoreError};

/// Columns of [`inbound`].
const COLS: &str = "id, company_id, provider_account_id, sender, recipient, body, body_raw, data_coding, complete, subscriber_id, opt_out, received_at, read_at";

/// A repeat of the same text from the same sender within this long is the operator
/// delivering it again, not a new message.
const REPEAT_WINDOW_MS: i64 = 10 * 60 * 1000;

/// An inbound message as the engine hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundIn {
    /// Originator as the operator wrote it.
    pub sender: String,
    /// The number or short code it was sent to.
    pub recipient: String,
    /// The text (empty when it could not be decoded).
    pub body: String,
    /// The user data as received (parts joined, without UDH) when the text could not be
    /// decoded (8-bit data), so it is kept rather than lost.
    pub body_raw: Option<Vec<u8>>,
    /// The SMPP data_coding of the first part, when the message came over SMPP.
    pub data_coding: Option<u8>,
    /// False when released with parts missing.
    pub complete: bool,
}

/// A stored inbound message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InboundMessage {
    /// Id.
    pub id: i64,
    /// Owning company.
    pub company_id: CompanyId,
    /// Account it came in on.
    pub provider_account_id: Option<ProviderAccountId>,
    /// Sender (E.164 when it reads as a number).
    pub sender: String,
    /// The company's number or short code.
    pub recipient: String,
    /// Text (empty when it could not be decoded).
    pub body: String,
    /// The undecoded user data, when the text could not be decoded.
    pub body_raw: Option<Vec<u8>>,
    /// The SMPP data_coding it came with, when known.
    pub data_coding: Option<u8>,
    /// Whether every part arrived.
    pub complete: bool,
    /// The subscriber with the sender's number, if any.
    pub subscriber_id: Option<SubscriberId>,
    /// Whether it was an opt-out keyword (the sender is now on the opt-out list).
    pub opt_out: bool,
    /// Received (unix ms).
    pub received_at: i64,
    /// Marked read in the inbox (unix ms); `None` while unread.
    pub read_at: Option<i64>,
}

/// What [`Store::store_inbound`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundStats {
    /// Messages stored.
    pub stored: u64,
    /// Repeats of a stored message (not stored again).
    pub duplicates: u64,
    /// Senders put on the opt-out list.
    pub opted_out: u64,
}

/// Where [`Store::unread_inbound`] stops counting.
pub const UNREAD_COUNT_MAX: i64 = 1000;

fn inbound(r: &AnyRow) -> Result<InboundMessage> {
    Ok(InboundMessage {
        id: col(r, "id")?,
        company_id: CompanyId(col(r, "company_id")?),
        provider_account_id: col::<Option<i64>>(r, "provider_account_id")?.map(ProviderAccountId),
        sender: col(r, "sender")?,
        recipient: col(r, "recipient")?,
        body: col(r, "body")?,
        body_raw: col::<Option<String>>(r, "body_raw")?
            .map(|h| from_hex(&h))
            .transpose()?,
        data_coding: col::<Option<i64>>(r, "data_coding")?
            .map(|d| {
                u8::try_from(d).map_err(|_| StoreError::Corrupt {
                    what: "inbound_messages.data_coding",
                })
            })
            .transpose()?,
        complete: col::<i64>(r, "complete")? != 0,
        subscriber_id: col::<Option<i64>>(r, "subscriber_id")?.map(SubscriberId),
        opt_out: col::<i64>(r, "opt_out")? != 0,
        received_at: col(r, "received_at")?,
        read_at: col(r, "read_at")?,
    })
}

/// Bytes as lower-case hex (the `body_raw` column: portable text in both databases).
fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bytes of a `body_raw` column.
fn from_hex(h: &str) -> Result<Vec<u8>> {
    let bad = || StoreError::Corrupt {
        what: "inbound_messages.body_raw",
    };
    if !h.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..h.len())
        .step_by(2)
        .map(|i| {
            h.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// Whether `body` is one of `keywords` (comma-separated): its first word, compared without
/// case or Turkish accents (`İptal`, `iptal`, `IPTAL` all match `IPTAL`).
pub fn is_opt_out(body: &str, keywords: &str) -> bool {
    let Some(first) = body.split_whitespace().next() else {
        return false;
    };
    let word = search_fold(first.trim_matches(|c: char| !c.is_alphanumeric()));
    keywords
        .split(',')
        .map(|k| search_fold(k.trim()))
        .any(|k| !k.is_empty() && k == word)
}

impl Store {
    /// Stores a batch of inbound messages of one provider account in one transaction: each
    /// is linked to the subscriber with its sender's number; a repeat (same sender and text
    /// within ten minutes) is stored and announced once; an opt-out keyword puts the sender
    /// on the opt-out list and marks the subscriber opted out. Each stored message is
    /// announced as `inbound.received`.
    #[tracing::instrument(skip_all, fields(company = company.0, messages = messages.len()))]
    pub async fn store_inbound(
        &self,
        company: CompanyId,
        provider: Option<ProviderAccountId>,
        messages: Vec<InboundIn>,
    ) -> Result<InboundStats> {
        let now = now_ms();
        let mut stats = InboundStats::default();
        let mut tx = self.begin_write().await?;
        let (country, keywords): (String, String) =
            sqlx::query_as("SELECT country_type, opt_out_keywords FROM companies WHERE id = $1")
                .bind(company.0)
                .fetch_one(&mut *tx)
                .await?;
        let country: CountryType = parse(&country, "companies.country_type")?;
        for m in messages {
            let phone = Msisdn::parse(&m.sender, country).ok();
            let sender = phone
                .as_ref()
                .map_or_else(|| m.sender.trim().to_owned(), |p| p.e164().to_owned());
            let raw = m.body_raw.as_deref().map(to_hex);
            // Undecodable messages all have an empty text: their bytes tell them apart.
            let repeat: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM inbound_messages WHERE company_id = $1 AND sender = $2 \
                 AND received_at > $3 AND body = $4 AND recipient = $5 \
                 AND COALESCE(body_raw, '') = $6 LIMIT 1",
            )
            .bind(company.0)
            .bind(&sender)
            .bind(now - REPEAT_WINDOW_MS)
            .bind(&m.body)
            .bind(&m.recipient)
            .bind(raw.as_deref().unwrap_or(""))
            .fetch_optional(&mut *tx)
            .await?;
            if repeat.is_some() {
                stats.duplicates += 1;
                continue;
            }
            let subscriber: Option<i64> = match &phone {
                Some(p) => {
                    sqlx::query_scalar(
                        "SELECT id FROM subscribers WHERE company_id = $1 AND phone = $2",
                    )
                    .bind(company.0)
                    .bind(p.e164())
                    .fetch_optional(&mut *tx)
                    .await?
                }
                None => None,
            };
            let opt_out = phone.is_some() && is_opt_out(&m.body, &keywords);
            if let (true, Some(p)) = (opt_out, &phone) {
                let added = sqlx::query(
                    "INSERT INTO opt_outs (company_id, phone, reason, search_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (company_id, phone) DO NOTHING",
                )
                .bind(company.0)
                .bind(p.e164())
                .bind("opt-out keyword by SMS")
                .bind(search_key("", &[p]))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                stats.opted_out += added.rows_affected();
                sqlx::query(
                    "UPDATE subscribers SET consent = 'opted_out', updated_at = $3 \
                     WHERE company_id = $1 AND phone = $2",
                )
                .bind(company.0)
                .bind(p.e164())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO inbound_messages (company_id, provider_account_id, sender, \
                 recipient, body, complete, subscriber_id, opt_out, received_at, body_raw, \
                 data_coding) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )
            .bind(company.0)
            .bind(provider.map(|p| p.0))
            .bind(&sender)
            .bind(&m.recipient)
            .bind(&m.body)
            .bind(i64::from(m.complete))
            .bind(subscriber)
            .bind(i64::from(opt_out))
            .bind(now)
            .bind(raw.as_deref())
            .bind(m.data_coding.map(i64::from))
            .fetch_one(&mut *tx)
            .await?;
            emit_event(
                &mut tx,
                company,
                WebhookEventType::InboundReceived,
                json!({"id": id, "sender": sender, "recipient": m.recipient, "text": m.body,
                       "body_raw": raw, "data_coding": m.data_coding,
                       "subscriber_id": subscriber, "opt_out": opt_out, "complete": m.complete}),
            )
            .await?;
            stats.stored += 1;
        }
        tx.commit().await?;
        Ok(stats)
    }

    /// Marks the company's inbound message `id` read (the first time counts; marking again
    /// keeps it). False when the company has no such message.
    #[tracing::instrument(skip(self))]
    pub async fn mark_inbound_read(&self, company: CompanyId, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE inbound_messages SET read_at = COALESCE(read_at, $3) \
             WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Lists the company's inbound messages, newest last; `search` matches the sender.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_inbound(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<InboundMessage>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM inbound_messages"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, inbound, |m| m.id).await
    }

    /// [`Store::list_inbound`] newest first, as an inbox shows them: the cursor is the last
    /// id of the page before, and the next page holds older messages.
    pub async fn list_inbound_newest(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<InboundMessage>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM inbound_messages"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page_newest(sql, q, inbound, |m| m.id).await
    }

    /// How many of the company's inbound messages are unread, and the newest `latest` of
    /// them. The count stops at [`UNREAD_COUNT_MAX`] (a dashboard says "1000+"), so it reads
    /// at most that many index entries however large the inbox.
    #[tracing::instrument(skip(self))]
    pub async fn unread_inbound(
        &self,
        company: CompanyId,
        latest: i64,
    ) -> Result<(i64, Vec<InboundMessage>)> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM inbound_messages \
             WHERE company_id = $1 AND read_at IS NULL LIMIT $2) AS u",
        )
        .bind(company.0)
        .bind(UNREAD_COUNT_MAX)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(sql!(
            "SELECT {COLS} FROM inbound_messages WHERE company_id = $1 AND read_at IS NULL \
             ORDER BY id DESC LIMIT $2"
        ))
        .bind(company.0)
        .bind(latest.clamp(0, 100))
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(inbound).collect::<Result<Vec<_>>>()?;
        Ok((n, items))
    }

    /// Marks queued and scheduled messages of a provider account whose recipient opted out
    /// after they were accepted as `skipped`, releasing their credit. Returns how many.
    #[tracing::instrument(skip(self))]
    pub async fn skip_opted_out(&self, provider: ProviderAccountId) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // One state per statement, so each reads its partial index (migration 0007).
        let mut rows: Vec<(i64, i64, i64)> = Vec::new();
        for state in ["queued", "scheduled"] {
            rows.extend(
                sqlx::query_as::<_, (i64, i64, i64)>(sql!(
                    "UPDATE messages SET state = 'skipped', state_at = $2, final_at = $2, \
                     state_reason = 'the recipient opted out before it was sent' \
                     WHERE provider_account_id = $1 AND state = '{state}' \
                     AND EXISTS (SELECT 1 FROM opt_outs o \
                                 WHERE o.company_id = messages.company_id \
                                 AND o.phone = messages.recipient) \
                     RETURNING id, company_id, cost"
                ))
                .bind(provider.0)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?,
            );
        }
        let mut release: std::collections::BTreeMap<i64, i64> = Default::default();
        for (id, company, cost) in &rows {
            super::credit::add_cost(&mut release, *company, *cost)?;
            sqlx::query(
                "INSERT INTO message_events (message_id, state, detail, at) \
                 VALUES ($1, 'skipped', 'the recipient opted out', $2)",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for (company, amount) in release.into_iter().filter(|(_, a)| *a > 0) {
            super::credit::write_entry(
                &mut tx,
                CompanyId(company),
                ulak_core::model::LedgerKind::Release,
                amount,
                Some("opted out before sending"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::is_opt_out;

    #[test]
    fn keywords_match_the_first_word_without_case_or_accents() {
        let k = "RET,IPTAL";
        // The keyword may be followed by a brand code or anything else, as İYS replies are.
        for yes in [
            "RET",
            "ret",
            "Ret lütfen",
            "İptal",
            "IPTAL.",
            "iptal 4545",
            "RET MARKA",
        ] {
            assert!(is_opt_out(yes, k), "{yes}");
        }
        for no in ["", "merhaba ret", "RETURN", "Tamam", "...", "retim"] {
            assert!(!is_opt_out(no, k), "{no}");
        }
        assert!(!is_opt_out("RET", ""));
    }
}
