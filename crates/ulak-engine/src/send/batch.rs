//! Many single sends in one call (`POST /api/v1/messages/batch`): each is decided by the
//! same rules as [`super::send`] and answered on its own — one refused, replayed or short of
//! credit does not touch the others — while the company's setup is read once, the opt-outs
//! in one read, and the accepted ones committed together.

use ulak_core::Code;
use ulak_core::model::{CompanyId, Message, NewMessage, Recipient, ValidationErrors};
use ulak_store::{Idempotency, Store, StoredAnswer};

use super::lookups::Lookups;
use super::{SendError, SendRequest, Sent, checked, fingerprint, replayed};

/// Messages one batch may hold.
pub const BATCH_MAX: usize = 1_000;

/// One send of a batch, with its own optional idempotency key.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The send.
    pub request: SendRequest,
    /// Makes this item safe to repeat (in this batch, a later batch or a single send).
    pub key: Option<String>,
}

/// Sends `items` for `company`, answering each in order. The outer error is for the batch as
/// a whole: more than [`BATCH_MAX`] items, no SMS settings, or the store failing before any
/// item was decided.
pub async fn send_batch(
    store: &Store,
    company: CompanyId,
    items: Vec<BatchItem>,
    answer: fn(&Message) -> StoredAnswer,
) -> Result<Vec<Result<Sent, SendError>>, SendError> {
    if items.len() > BATCH_MAX {
        return Err(SendError::Invalid(ValidationErrors::single(
            "messages",
            Code::ValueTooMany,
            format!("at most {BATCH_MAX} messages per batch"),
        )));
    }
    let mut lookups = Lookups::new(store, company).await?;
    let settings = lookups.settings.clone();
    let decoded: Vec<_> = items
        .iter()
        .map(|it| {
            let to = Recipient::parse(&it.request.to, settings.country_type);
            let hash = it
                .key
                .as_ref()
                .map(|_| fingerprint(&it.request, to.as_ref().ok()))
                .unwrap_or_default();
            (to, hash)
        })
        .collect();
    let phones: Vec<&str> = decoded
        .iter()
        .filter_map(|(to, _)| match to {
            Ok(Recipient::Msisdn(m)) => Some(m.e164()),
            _ => None,
        })
        .collect();
    lookups.read_opt_outs(&phones).await?;

    let mut answers: Vec<Option<Result<Sent, SendError>>> =
        (0..items.len()).map(|_| None).collect();
    // (item, message, key, fingerprint) of each item that passed the rules.
    let mut ready: Vec<(usize, NewMessage, Option<String>, String)> = Vec::new();
    for (i, (item, (to, hash))) in items.into_iter().zip(decoded).enumerate() {
        if let Some(k) = &item.key {
            match store.idempotent_replay(company, k, &hash).await {
                Ok(Some(first)) => {
                    answers[i] = Some(Ok(replayed(first)));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    answers[i] = Some(Err(e.into()));
                    continue;
                }
            }
        }
        match checked(&mut lookups, &settings, item.request, to).await {
            Ok(new) => ready.push((i, new, item.key, hash)),
            Err(e) => answers[i] = Some(Err(e)),
        }
    }

    let (slots, messages): (Vec<usize>, Vec<_>) = ready
        .iter()
        .map(|(i, new, key, hash)| {
            let idem = key.as_deref().map(|key| Idempotency {
                key,
                request_hash: hash,
                answer,
            });
            (*i, (new.clone(), idem))
        })
        .unzip();
    let enqueued = store.enqueue_messages(company, messages).await;
    for (i, r) in slots.into_iter().zip(enqueued) {
        answers[i] = Some(match r {
            Ok(e) if e.replayed => Ok(replayed(e)),
            Ok(e) => Ok(Sent::Queued(e.message)),
            Err(e) => Err(e.into()),
        });
    }
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or(Err(SendError::Store(ulak_store::StoreError::Closed))))
        .collect())
}
