//! The two loops of an account: submitting ([`submit`]: claim due messages, submit each as a
//! slot of the window frees up, record outcomes as they arrive) and receipts ([`receipts`]:
//! apply a batch of delivery reports and inbound messages in one write).

mod housekeeping;
pub mod receipts;
mod record;
pub mod submit;

use std::time::Duration;

use ulak_core::model::{Message, ProviderAccountId};
use ulak_store::{Rest, StoreError, SubmitOutcome, SubmitResult};

pub use receipts::{HeldReceipt, RECEIPT_HOLD, receipt_step};
pub use submit::{Flight, submit_loop};

use crate::provider::{Attempt, Failure, backoff};

/// How the submit loop behaves.
#[derive(Debug, Clone)]
pub struct SubmitSettings {
    /// Who holds the leases (unique per process).
    pub owner: String,
    /// Most messages claimed at a time.
    pub batch: usize,
    /// How long a claim lasts before another worker may take the message again.
    pub lease: Duration,
    /// Attempts before a message fails for good.
    pub max_attempts: u32,
    /// First retry delay.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Where submits are counted.
    pub metrics: crate::metrics::Metrics,
}

/// The outcome of one attempt, as the store records it. `before` are the segments earlier
/// attempts got through (not sent in this one). Segments taken are always recorded; a
/// message with segments left goes back to the queue with a backoff, or fails when the
/// failure is permanent or the attempts are used up.
pub fn outcome(
    m: &Message,
    before: &[u32],
    attempt: Attempt,
    s: &SubmitSettings,
    now_ms: i64,
) -> SubmitOutcome {
    let Attempt { taken, failure } = attempt;
    let taken: Vec<(u32, String)> = taken.into_iter().map(|t| (t.part, t.operator_id)).collect();
    // Said in the history, so a partly sent message shows it (no texts or numbers in it).
    let so_far = before.len() + taken.len();
    let note = |what: &str| match so_far {
        0 => String::new(),
        n => format!(" ({n} of its segments taken{what})"),
    };
    let rest = match failure {
        None => Rest::Submitted,
        Some(Failure::Permanent { reason, code }) => Rest::Failed {
            reason: format!("{reason}{}", note("")),
            code,
        },
        Some(Failure::Transient(reason)) if m.attempts >= s.max_attempts => Rest::Failed {
            reason: format!(
                "gave up after {} attempts: {reason}{}",
                m.attempts,
                note("")
            ),
            code: None,
        },
        Some(Failure::Transient(reason)) => {
            let wait = backoff(m.attempts, s.retry_base, s.retry_max);
            Rest::Retry {
                reason: format!(
                    "attempt {} failed: {reason}{}; retrying",
                    m.attempts,
                    note(", only the others are sent again")
                ),
                at: now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)),
            }
        }
    };
    let whole = before.is_empty() && (1u32..).zip(&taken).all(|(k, (part, _))| k == *part);
    let result = match rest {
        Rest::Submitted if whole => SubmitResult::Submitted {
            operator_ids: taken.into_iter().map(|(_, op)| op).collect(),
        },
        Rest::Retry { reason, at } if taken.is_empty() => SubmitResult::Retry { reason, at },
        Rest::Failed { reason, code } if taken.is_empty() => SubmitResult::Failed { reason, code },
        rest => SubmitResult::Segments { taken, rest },
    };
    SubmitOutcome { id: m.id, result }
}

/// Runs a store write, retrying it with a growing pause for about 50 seconds.
async fn retrying<T, F, Fut>(account: ProviderAccountId, what: &str, f: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if delay < Duration::from_secs(30) => {
                tracing::warn!(account = account.0, error = %e, "storing {what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Taken;
    use ulak_core::model::{CompanyId, MessageId, MessageState, TrafficClass};

    fn settings() -> SubmitSettings {
        SubmitSettings {
            owner: "t".into(),
            batch: 10,
            lease: Duration::from_secs(60),
            max_attempts: 3,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
            metrics: crate::metrics::Metrics::default(),
        }
    }

    fn long_message(attempts: u32) -> Message {
        Message {
            id: MessageId(7),
            company_id: CompanyId(1),
            campaign_id: None,
            provider_account_id: Some(ProviderAccountId(1)),
            route_id: None,
            recipient_kind: "msisdn".into(),
            recipient: "+905320000000".into(),
            sender: "ULAK".into(),
            body: "x".repeat(400),
            encoding: "gsm7".into(),
            segments: 3,
            cost: 3,
            state: MessageState::Sending,
            state_reason: None,
            state_at: 0,
            attempts,
            next_attempt_at: 0,
            valid_until: i64::MAX,
            error_code: None,
            created_at: 0,
            submitted_at: None,
            final_at: None,
            class: TrafficClass::Transactional,
        }
    }

    fn taken(parts: &[u32]) -> Vec<Taken> {
        parts
            .iter()
            .map(|&part| Taken {
                part,
                operator_id: format!("op{part}"),
            })
            .collect()
    }

    fn ids(parts: &[u32]) -> Vec<(u32, String)> {
        parts.iter().map(|&p| (p, format!("op{p}"))).collect()
    }

    #[test]
    fn a_message_taken_whole_is_submitted_with_its_ids_in_order() {
        let o = outcome(
            &long_message(1),
            &[],
            Attempt::accepted(taken(&[1, 2, 3])),
            &settings(),
            1000,
        );
        assert_eq!(
            o.result,
            SubmitResult::Submitted {
                operator_ids: vec!["op1".into(), "op2".into(), "op3".into()]
            }
        );
    }

    #[test]
    fn segments_taken_before_a_transient_failure_are_kept_and_the_rest_retried() {
        let attempt = Attempt {
            taken: taken(&[1, 3]),
            failure: Some(Failure::Transient("the SMSC answered ESME_RSYSERR".into())),
        };
        let o = outcome(&long_message(1), &[], attempt, &settings(), 1000);
        let SubmitResult::Segments {
            taken,
            rest: Rest::Retry { reason, at },
        } = o.result
        else {
            panic!("{:?}", o.result)
        };
        assert_eq!(taken, ids(&[1, 3]));
        assert!(at > 1000);
        assert!(reason.contains("2 of its segments taken"), "{reason}");
    }

    #[test]
    fn the_last_missing_segment_taken_submits_the_message() {
        let o = outcome(
            &long_message(2),
            &[1, 3],
            Attempt::accepted(taken(&[2])),
            &settings(),
            1000,
        );
        assert_eq!(
            o.result,
            SubmitResult::Segments {
                taken: ids(&[2]),
                rest: Rest::Submitted
            }
        );
    }

    #[test]
    fn a_retry_that_gets_nothing_through_is_a_plain_retry() {
        let o = outcome(
            &long_message(2),
            &[1, 3],
            Attempt::transient("link lost"),
            &settings(),
            1000,
        );
        let SubmitResult::Retry { reason, .. } = o.result else {
            panic!("{:?}", o.result)
        };
        assert!(reason.contains("2 of its segments taken"), "{reason}");
    }

    #[test]
    fn segments_taken_are_recorded_when_the_message_fails() {
        // Out of attempts.
        let attempt = Attempt {
            taken: taken(&[1]),
            failure: Some(Failure::Transient("no answer".into())),
        };
        let o = outcome(&long_message(3), &[], attempt, &settings(), 1000);
        assert!(
            matches!(&o.result, SubmitResult::Segments { taken, rest: Rest::Failed { code: None, .. } } if *taken == ids(&[1])),
            "{:?}",
            o.result
        );
        // Refused for good.
        let attempt = Attempt {
            taken: taken(&[2]),
            failure: Some(Failure::Permanent {
                reason: "refused".into(),
                code: Some("0x0000000B".into()),
            }),
        };
        let o = outcome(&long_message(1), &[1], attempt, &settings(), 1000);
        assert!(
            matches!(&o.result, SubmitResult::Segments { taken, rest: Rest::Failed { code: Some(_), .. } } if *taken == ids(&[2])),
            "{:?}",
            o.result
        );
    }

    #[test]
    fn a_permanent_failure_outweighs_a_transient_one() {
        let p = Failure::Permanent {
            reason: "r".into(),
            code: None,
        };
        let t = Failure::Transient("t".into());
        assert_eq!(t.clone().worst(Some(p.clone())), p);
        assert_eq!(p.clone().worst(Some(t.clone())), p);
        assert_eq!(t.clone().worst(None), t);
    }
}
