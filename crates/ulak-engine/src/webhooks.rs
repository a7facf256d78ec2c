//! Webhook delivery per the Standard Webhooks specification: each delivery claimed from the
//! store's outbox is POSTed with `webhook-id` (the event's id, the same on every try),
//! `webhook-timestamp` (unix seconds of this try) and `webhook-signature`
//! (`v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}` keyed with the base64-decoded
//! part of the endpoint's `whsec_` secret). A 2xx answer within the timeout delivers it;
//! anything else is retried on a schedule with jitter, then the delivery fails. Secrets and
//! bodies (which carry phone numbers) are never logged.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use ulak_core::net::OutboundPolicy;
use ulak_store::{ClaimedWebhook, Store, WebhookOutcome, WebhookResult};

use crate::outbound::{self, PolicyResolver};
use crate::worker::now_ms;

/// The delays after the 1st, 2nd, … failed try; after the last one the delivery fails. Ten
/// tries over about 22 h 48 min (before jitter).
pub const DEFAULT_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
];

/// The `User-Agent` of deliveries.
const USER_AGENT: &str = concat!("Ulak-Webhooks/", env!("CARGO_PKG_VERSION"));

/// How the delivery loop behaves.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Delay before each retry ([`DEFAULT_SCHEDULE`]); `schedule.len() + 1` tries in all.
    pub schedule: Vec<Duration>,
    /// Each delay is moved by up to this fraction either way (0.1 = ±10 %), so endpoints
    /// that came back are not hit by every retry at once.
    pub jitter: f64,
    /// How long one try may take (connect, send, answer).
    pub timeout: Duration,
    /// Tries in flight at once.
    pub concurrency: usize,
    /// How long a claimed delivery is left alone by other workers (longer than `timeout`).
    pub lease: Duration,
    /// Pause when nothing is due.
    pub idle: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            schedule: DEFAULT_SCHEDULE.to_vec(),
            jitter: 0.1,
            timeout: Duration::from_secs(10),
            concurrency: 16,
            lease: Duration::from_secs(60),
            idle: Duration::from_millis(500),
        }
    }
}

/// Why a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The secret is not `whsec_` + base64 of at least one byte.
    #[error("the webhook secret is malformed")]
    BadSecret,
}

/// The HMAC key of a `whsec_…` secret.
fn key(secret: &str) -> Result<Vec<u8>, SignError> {
    let b64 = secret
        .strip_prefix("whsec_")
        .ok_or(SignError::BadSecret)?
        .trim_end_matches('=');
    let key = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .map_err(|_| SignError::BadSecret)?;
    if key.is_empty() {
        return Err(SignError::BadSecret);
    }
    Ok(key)
}

/// The MAC over `{msg_id}.{timestamp}.{body}`.
fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &str) -> Result<Hmac<Sha256>, SignError> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).map_err(|_| SignError::BadSecret)?;
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body.as_bytes());
    Ok(m)
}

/// The `webhook-signature` value for a body: `v1,` + base64 of HMAC-SHA256 keyed with the
/// decoded secret over `{msg_id}.{timestamp}.{body}` (timestamp in unix seconds).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, SignError> {
    let tag = mac(&key(secret)?, msg_id, timestamp, body)?
        .finalize()
        .into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// Whether any `v1,` entry of a (space-separated) `webhook-signature` value signs the body,
/// compared in constant time. The timestamp's age is the caller's to check.
pub fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &str, signatures: &str) -> bool {
    let Ok(key) = key(secret) else { return false };
    signatures.split(' ').any(|entry| {
        let Some(b64) = entry.strip_prefix("v1,") else {
            return false;
        };
        let Ok(tag) = STANDARD.decode(b64) else {
            return false;
        };
        mac(&key, msg_id, timestamp, body).is_ok_and(|m| m.verify_slice(&tag).is_ok())
    })
}

/// What follows a failed try, given the tries made before it: a retry after the next delay
/// of the schedule (with jitter; `unit` in [0, 1) picks where in the band), or failure once
/// the schedule is used up.
pub fn after_failure(
    attempts_before: u32,
    s: &WebhookSettings,
    now_ms: i64,
    unit: f64,
) -> WebhookResult {
    let Some(delay) = usize::try_from(attempts_before)
        .ok()
        .and_then(|i| s.schedule.get(i))
    else {
        return WebhookResult::Failed;
    };
    let factor = 1.0 + s.jitter.clamp(0.0, 1.0) * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    let ms = (delay.as_millis() as f64 * factor).round();
    // Float to integer casts saturate; the schedule's delays are far below i64::MAX ms.
    let ms = ms as i64;
    WebhookResult::Retry {
        at: now_ms.saturating_add(ms.max(0)),
    }
}

/// The client deliveries use: the timeout, no redirects (a 3xx is not a delivery), no proxy
/// (the target's addresses are checked here, which a proxy would resolve instead), a
/// resolver that keeps only addresses `policy` allows, and Ulak's user agent.
pub fn client(s: &WebhookSettings, policy: &OutboundPolicy) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(PolicyResolver::new(policy.clone()))
        .user_agent(USER_AGENT)
        .build()
}

/// One try of one claimed delivery: reads the endpoint's secret, signs and POSTs the body.
/// Never fails; what went wrong is in the outcome.
pub async fn attempt(
    store: &Store,
    http: &reqwest::Client,
    d: &ClaimedWebhook,
    s: &WebhookSettings,
    policy: &OutboundPolicy,
) -> WebhookOutcome {
    let started = Instant::now();
    let failure = |status: Option<u16>, error: String, started: Instant| WebhookOutcome {
        result: after_failure(d.attempts, s, now_ms(), rand::random::<f64>()),
        status,
        error: Some(error),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    let url = match reqwest::Url::parse(&d.url) {
        Ok(url) => url,
        Err(_) => return failure(None, "invalid URL".to_owned(), started),
    };
    // The client connects to a literal address without asking the resolver.
    if !outbound::literal_host_allowed(&url, policy) {
        return failure(None, "target not allowed".to_owned(), started);
    }
    let secret = match store.get_webhook_secret(d.company_id, d.endpoint_id).await {
        Ok(secret) => secret,
        Err(e) => {
            tracing::warn!(endpoint = d.endpoint_id.0, error = %e, "cannot read a webhook secret");
            return failure(None, "cannot read the signing secret".to_owned(), started);
        }
    };
    let timestamp = now_ms().div_euclid(1000);
    let signature = match sign(secret.expose(), &d.msg_id, timestamp, &d.payload) {
        Ok(sig) => sig,
        Err(e) => return failure(None, e.to_string(), started),
    };
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await;
    let status = match sent {
        Ok(res) => res.status(),
        Err(e) => return failure(None, outbound::category(&e).to_owned(), started),
    };
    if status.is_success() {
        WebhookOutcome {
            result: WebhookResult::Delivered,
            status: Some(status.as_u16()),
            error: None,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    } else {
        failure(
            Some(status.as_u16()),
            format!("HTTP {}", status.as_u16()),
            started,
        )
    }
}

/// Tries one claimed delivery and records the outcome (retrying the write a few times: the
/// try already happened, and a lost record would repeat it after the lease).
async fn deliver(
    store: Store,
    http: reqwest::Client,
    d: ClaimedWebhook,
    s: WebhookSettings,
    policy: OutboundPolicy,
) {
    let outcome = attempt(&store, &http, &d, &s, &policy).await;
    match (&outcome.result, &outcome.error) {
        (WebhookResult::Delivered, _) => tracing::debug!(
            endpoint = d.endpoint_id.0,
            webhook_id = %d.msg_id,
            event = %d.event_type,
            "webhook delivered"
        ),
        (result, error) => tracing::info!(
            endpoint = d.endpoint_id.0,
            webhook_id = %d.msg_id,
            event = %d.event_type,
            attempt = d.attempts + 1,
            status = outcome.status,
            error = error.as_deref().unwrap_or_default(),
            gave_up = matches!(result, WebhookResult::Failed),
            "webhook delivery failed"
        ),
    }
    let mut delay = Duration::from_millis(100);
    for _ in 0..5 {
        match store
            .record_webhook_attempt(d.attempt_id, outcome.clone())
            .await
        {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(webhook_id = %d.msg_id, error = %e, "recording a webhook try failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

/// Runs the delivery loop until `stop`: keeps up to `concurrency` tries in flight, claiming
/// due deliveries as slots free up, and waits `idle` when nothing is due. Tries in flight
/// when stopped get [`STOP_DRAIN`] to finish and be recorded. Endpoints are reached only at
/// addresses `policy` allows.
pub async fn run(
    store: Store,
    s: WebhookSettings,
    policy: OutboundPolicy,
    stop: CancellationToken,
) {
    let http = match client(&s, &policy) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks are off");
            return;
        }
    };
    let lease = i64::try_from(s.lease.as_millis()).unwrap_or(i64::MAX / 2);
    let concurrency = s.concurrency.max(1);
    let mut inflight = JoinSet::new();
    while !stop.is_cancelled() {
        let free = concurrency.saturating_sub(inflight.len());
        let mut claimed = 0;
        if free > 0 {
            match store.claim_webhook_attempts(free, lease).await {
                Ok(batch) => {
                    claimed = batch.len();
                    for d in batch {
                        inflight.spawn(deliver(
                            store.clone(),
                            http.clone(),
                            d,
                            s.clone(),
                            policy.clone(),
                        ));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        if claimed > 0 && inflight.len() < concurrency {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            () = tokio::time::sleep(s.idle) => {}
        }
    }
    // Tries in flight get a moment to finish; one left unfinished stays claimed and is tried
    // again after its lease (receivers drop repeats by `webhook-id`), so a hanging endpoint
    // never holds up a shutdown.
    let drained = async { while inflight.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_DRAIN, drained).await.is_err() {
        inflight.abort_all();
    }
}

/// How long a stopping loop waits for tries in flight.
const STOP_DRAIN: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The example of the Standard Webhooks reference libraries' test suites.
    #[test]
    fn signs_like_the_reference_libraries() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, id, 1_614_265_330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(secret, id, 1_614_265_330, body, &sig));
        assert!(verify(
            secret,
            id,
            1_614_265_330,
            body,
            &format!("v1,bm90IGl0 {sig}")
        ));
        assert!(!verify(secret, id, 1_614_265_331, body, &sig));
        assert!(!verify(secret, id, 1_614_265_330, "{}", &sig));
        assert!(!verify(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            id,
            1_614_265_330,
            body,
            &sig
        ));
        assert_eq!(sign("nope", id, 1, body), Err(SignError::BadSecret));
        assert_eq!(sign("whsec_", id, 1, body), Err(SignError::BadSecret));
    }

    #[test]
    fn retries_follow_the_schedule_then_fail() {
        let s = WebhookSettings::default();
        let total: Duration = s.schedule.iter().sum();
        assert!(
            total > Duration::from_secs(20 * 3600) && total < Duration::from_secs(24 * 3600),
            "{total:?}"
        );
        assert_eq!(
            after_failure(0, &s, 1000, 0.5),
            WebhookResult::Retry { at: 6000 },
            "5 s after the first try, jitter centred"
        );
        assert_eq!(
            after_failure(0, &s, 0, 0.0),
            WebhookResult::Retry { at: 4500 }
        );
        assert_eq!(
            after_failure(1, &s, 0, 0.999_999),
            WebhookResult::Retry { at: 33_000 }
        );
        assert_eq!(after_failure(9, &s, 0, 0.5), WebhookResult::Failed);
        assert_eq!(after_failure(u32::MAX, &s, 0, 0.5), WebhookResult::Failed);
        let none = WebhookSettings {
            schedule: Vec::new(),
            ..WebhookSettings::default()
        };
        assert_eq!(after_failure(0, &none, 0, 0.5), WebhookResult::Failed);
    }
}
