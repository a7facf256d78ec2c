//! The submit loop of an account. It claims due messages under its lease, submits each one as
//! soon as a slot of the account's window is free, and hands every outcome to a recorder that
//! writes whatever has arrived in one transaction (group commit), then gives the slots back.
//!
//! A slot is held from the submit until its outcome is *stored*, not only answered: so at any
//! moment at most `window × binds` segments can have reached the operator without a record of
//! it, and a crash (SIGKILL) can make the operator see at most that many again after the
//! restart requeues the node's leases. Claimed messages that were never submitted are no
//! risk: they are simply submitted once after the restart.
//!
//! A long message can go through in pieces: the segments an attempt got through are stored
//! with the outcome even when others failed, and a later claim of the message (a retry, or
//! after a restart) sends only the others ([`Claimed::taken`]), under the same
//! concatenation reference. So a segment taken and recorded is never sent again either.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ulak_core::model::{Message, ProviderAccount, ProviderAccountId, TrafficClass};
use ulak_store::{Rest, Store, StoreError, SubmitResult};

use super::housekeeping::housekeeping;
use super::record::{Done, record_loop};
use super::{SubmitSettings, now_ms, outcome};
use crate::metrics::SubmitKind;
use crate::provider::Provider;

/// How much of an account's traffic may be on the way at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flight {
    /// Segments submitted and not yet recorded, at most: the account's window × binds.
    pub slots: usize,
    /// Messages claimed at a time.
    pub claim: usize,
}

impl Flight {
    /// The account's submits in flight ([`ProviderAccount::in_flight`]: an SMPP account's
    /// window × binds), and claims of at most `batch` messages and of at most
    /// ten seconds of its rate, so a claimed message is submitted long before its lease ends.
    pub fn for_account(account: &ProviderAccount, batch: usize) -> Flight {
        let slots = usize::try_from(account.in_flight()).unwrap_or(usize::MAX);
        let by_rate = usize::try_from(account.rate_per_sec)
            .unwrap_or(usize::MAX)
            .saturating_mul(10);
        Flight {
            slots,
            claim: batch.min(by_rate).max(slots.min(batch)).max(1),
        }
    }

    /// Slots a message takes: one per segment it still has to send (a message longer than
    /// the whole window takes the whole window).
    fn slots_for(&self, c: &Claimed) -> u32 {
        let left = c.message.segments.saturating_sub(len_u32(&c.taken)).max(1);
        let n = usize::try_from(left).unwrap_or(usize::MAX);
        u32::try_from(n.min(self.slots)).unwrap_or(u32::MAX)
    }
}

fn len_u32<T>(v: &[T]) -> u32 {
    u32::try_from(v.len()).unwrap_or(u32::MAX)
}

/// A claimed message, with the segments earlier attempts got through (sent no more).
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The message.
    pub message: Message,
    /// Its segments the operator has taken already (numbers from 1).
    pub taken: Vec<u32>,
    /// Half its lease after the claim began: not submitted from here after this, as its
    /// lease may end (and another claim take it) before the operator answers.
    pub until: Instant,
}

/// How long a stopping loop waits for submits in flight to be answered; what is still
/// unanswered then stays leased to this node, whose restart takes it back at once.
const DRAIN: Duration = Duration::from_secs(2);

/// How long a stopping loop lets the recorder write what was answered.
const RECORD_DRAIN: Duration = Duration::from_secs(1);

/// How often a paused loop looks whether its account is up again.
const PAUSED_LOOK: Duration = Duration::from_millis(200);

/// A claim under way, as a task of its own: its transaction goes on to its end whatever the
/// loop is awaiting. (As a future polled only by the loop's `select!`, a claim that had begun
/// its transaction held the store's writer while the loop awaited a give-back needing that
/// writer: every write of the node stalled until the pool's 30 s timeout.)
type Claiming = tokio::task::JoinHandle<Result<Vec<Claimed>, StoreError>>;

/// Runs the submit loop of account `current` until `stop`: claims, submits within its
/// [`Flight`], records outcomes as they come. Waits `idle` after a claim found nothing, backs off on store errors
/// (logged, never fatal). On stop, claimed messages not submitted go back to the queue, and
/// submits in flight get a moment to be answered and recorded.
pub async fn submit_loop<P: Provider + ?Sized>(
    store: Store,
    provider: &P,
    current: &ProviderAccount,
    s: SubmitSettings,
    idle: Duration,
    stop: CancellationToken,
) {
    let account = current.id;
    let flight = Flight::for_account(current, s.batch);
    let version = current.updated_at;
    let housekeeping = tokio::spawn(housekeeping(store.clone(), account, stop.clone()));
    let slots = Arc::new(Semaphore::new(flight.slots));
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Done>();
    let give_up = CancellationToken::new();
    let mut recorder = tokio::spawn(record_loop(
        store.clone(),
        account,
        s.metrics.clone(),
        done_rx,
        give_up.clone(),
    ));
    let mut ready: VecDeque<Claimed> = VecDeque::new();
    let mut claiming: Option<Claiming> = None;
    // Messages queued for the account wake the loop ([`Store::queue_waiter`]): an idle loop
    // claims at once; one holding a campaign's batch claims the urgent lanes and puts them
    // first, so a single send overtakes the campaign.
    let wake = store.queue_waiter(account);
    let mut woken = false;
    let mut urgent: Option<Claiming> = None;
    let mut next_claim = Instant::now();
    // After a failed claim, none before this (a wake-up does not cut the pause short).
    let mut retry_at = Instant::now();
    let mut submitting = FuturesUnordered::new();
    loop {
        // A down account ([`crate::failover`]) claims nothing and gives back what it holds,
        // so its routes' messages can move to another account; it looks again shortly.
        let paused = provider.paused();
        if paused {
            woken = false;
            if !ready.is_empty() {
                give_back(&store, account, &s.owner, std::mem::take(&mut ready)).await;
            }
            if Instant::now() >= next_claim {
                next_claim = Instant::now() + PAUSED_LOOK;
            }
        }
        if woken && claiming.is_none() && urgent.is_none() {
            // What came is claimed in turn by the regular claim (once what is held runs
            // low), without waiting out an idle pause; what overtakes it, at once.
            next_claim = next_claim.min(Instant::now().max(retry_at));
            match overtaking(least_urgent(&ready), ready.len(), flight.claim) {
                Overtake::Claim(last, n) => {
                    woken = false;
                    urgent = Some(claim(&store, account, version, &s, n, Lanes::UpTo(last)));
                }
                // Asked again on the loop's next turns, as held messages go out.
                Overtake::NoRoom => {}
                Overtake::Nothing => woken = false,
            }
        }
        if !paused
            && claiming.is_none()
            && urgent.is_none()
            && ready.len() <= flight.claim / 2
            && Instant::now() >= next_claim
        {
            claiming = Some(claim(
                &store,
                account,
                version,
                &s,
                flight.claim,
                Lanes::All,
            ));
        }
        let need = ready.front().map(|m| flight.slots_for(m));
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(done) = submitting.next(), if !submitting.is_empty() => {
                // The recorder lives until this sender is dropped.
                let _ = done_tx.send(done);
            }
            () = wake.notified() => woken = true,
            r = poll_claim(&mut urgent), if urgent.is_some() => {
                urgent = None;
                match r {
                    Ok(claimed) => hold(&mut ready, claimed),
                    // Not retried at once (a failing store would spin): the next wake-up or
                    // the regular claim takes them.
                    Err(e) => {
                        tracing::warn!(account = account.0, error = %e, "claiming urgent messages failed");
                    }
                }
            }
            r = poll_claim(&mut claiming), if claiming.is_some() => {
                claiming = None;
                match r {
                    Ok(claimed) if claimed.is_empty() => next_claim = Instant::now() + idle,
                    Ok(claimed) => hold(&mut ready, claimed),
                    Err(e) => {
                        tracing::warn!(account = account.0, error = %e, "claiming messages failed");
                        retry_at = Instant::now() + Duration::from_secs(1);
                        next_claim = retry_at;
                    }
                }
            }
            permit = slots.clone().acquire_many_owned(need.unwrap_or(1)), if need.is_some() => {
                let (Ok(permit), Some(m)) = (permit, ready.pop_front()) else { continue };
                if Instant::now() >= m.until {
                    // Held too long (a stalled SMSC, a flood of urgent traffic): left to its
                    // lease's end, which puts it back in the queue for a claim of its own.
                    let late = 1 + drop_late(&mut ready);
                    tracing::warn!(account = account.0, messages = late, "claimed messages held past half their lease were not sent; they go back to the queue when the lease ends");
                    continue;
                }
                submitting.push(submit_one(provider, account, &s, m, permit));
            }
            () = tokio::time::sleep_until(next_claim), if claiming.is_none() && ready.is_empty() => {}
        }
    }
    // Stopping. Claims under way are let finish, so what they took can be given back.
    for mut c in [claiming.take(), urgent.take()].into_iter().flatten() {
        match tokio::time::timeout(Duration::from_secs(1), &mut c).await {
            Ok(Ok(Ok(claimed))) => ready.extend(claimed),
            Ok(_) => {}
            // Stopped mid-transaction it rolls back. On PostgreSQL, had it just committed,
            // what it took stays leased to this node until the lease runs out (never
            // submitted, so never twice); a SQLite file's claim gives back what it took.
            Err(_) => c.abort(),
        }
    }
    give_back(&store, account, &s.owner, ready).await;
    let deadline = Instant::now() + DRAIN;
    while let Ok(Some(done)) = tokio::time::timeout_at(deadline, submitting.next()).await {
        let _ = done_tx.send(done);
    }
    if !submitting.is_empty() {
        tracing::warn!(
            account = account.0,
            messages = submitting.len(),
            "stopping with submits unanswered; they stay leased to this node and go out again when it restarts"
        );
    }
    drop(submitting);
    drop(done_tx);
    if tokio::time::timeout(RECORD_DRAIN, &mut recorder)
        .await
        .is_err()
    {
        give_up.cancel();
        let _ = recorder.await;
    }
    let _ = housekeeping.await;
}

/// Which lanes a claim reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lanes {
    /// Every lane, the most urgent first.
    All,
    /// The lanes up to this one (inclusive): what overtakes the messages held.
    UpTo(TrafficClass),
}

/// The least urgent class among the messages held.
fn least_urgent(ready: &VecDeque<Claimed>) -> Option<TrafficClass> {
    ready.iter().map(|c| c.message.class).max()
}

/// What a woken worker does about the messages accepted since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overtake {
    /// Claims the lanes up to this one (inclusive), at most this many messages: the lanes
    /// more urgent than the least urgent message held (single sends and OTP codes overtake a
    /// campaign's batch, OTP codes a batch of single sends), within two claims held in all.
    Claim(TrafficClass, usize),
    /// Something could overtake, but two claims are held: asked again as they go out.
    NoRoom,
    /// Nothing to do now: nothing could overtake what is held (OTP codes only), or so little
    /// is held that the regular claim, which reads the most urgent lane first, runs anyway.
    Nothing,
}

/// [`Overtake`] for a worker holding `held` messages, `least` the least urgent of them.
/// Unbounded, a worker whose SMSC stalled claimed every single send as it was accepted, put
/// the newest first, and could hold them past their lease.
fn overtaking(least: Option<TrafficClass>, held: usize, claim: usize) -> Overtake {
    let Some(least) = least else {
        return Overtake::Nothing;
    };
    let more_urgent = TrafficClass::ALL
        .into_iter()
        .take_while(|c| *c < least)
        .last();
    match more_urgent {
        None => Overtake::Nothing,
        Some(_) if held <= claim / 2 => Overtake::Nothing,
        Some(last) => match claim.saturating_mul(2).saturating_sub(held) {
            0 => Overtake::NoRoom,
            room => Overtake::Claim(last, room.min(claim)),
        },
    }
}

/// Drops the held messages past their [`Claimed::until`]; returns how many.
fn drop_late(ready: &mut VecDeque<Claimed>) -> usize {
    let now = Instant::now();
    let before = ready.len();
    ready.retain(|c| c.until > now);
    before - ready.len()
}

/// Adds claimed messages to those held: the most urgent class first, and within a class in
/// the order claimed (what was held first goes first).
fn hold(ready: &mut VecDeque<Claimed>, claimed: Vec<Claimed>) {
    ready.extend(claimed);
    // A stable sort: within a class the order stays as claimed.
    ready.make_contiguous().sort_by_key(|c| c.message.class);
}

/// Starts a claim of up to `n` due messages under this worker's lease, if the account is
/// still as it was when the worker started (`version`, its `updated_at`); else nothing is
/// claimed and the supervisor soon replaces or ends the worker.
fn claim(
    store: &Store,
    account: ProviderAccountId,
    version: i64,
    s: &SubmitSettings,
    n: usize,
    lanes: Lanes,
) -> Claiming {
    let store = store.clone();
    let owner = s.owner.clone();
    let lease = i64::try_from(s.lease.as_millis()).unwrap_or(i64::MAX / 2);
    let until = Instant::now() + s.lease / 2;
    tokio::spawn(async move {
        if !store.provider_account_unchanged(account, version).await? {
            return Ok(Vec::new());
        }
        let claimed = match lanes {
            Lanes::All => store.claim_messages(account, &owner, n, lease).await?,
            Lanes::UpTo(last) => {
                store
                    .claim_urgent_messages(account, &owner, n, lease, last)
                    .await?
            }
        };
        with_taken(&store, claimed, until).await
    })
}

/// Pairs claimed messages with the segments earlier attempts got through. Only a long
/// message tried before can have some, so the store is asked about those alone (rare: a
/// retry after a partial attempt, or a requeue after a crash).
async fn with_taken(
    store: &Store,
    claimed: Vec<Message>,
    until: Instant,
) -> Result<Vec<Claimed>, StoreError> {
    let retried: Vec<_> = claimed
        .iter()
        .filter(|m| m.attempts > 1 && m.segments > 1)
        .map(|m| m.id)
        .collect();
    let mut taken = match retried.is_empty() {
        true => Default::default(),
        false => store.taken_parts(&retried).await?,
    };
    Ok(claimed
        .into_iter()
        .map(|message| Claimed {
            taken: taken.remove(&message.id).unwrap_or_default(),
            message,
            until,
        })
        .collect())
}

/// Awaits the claim under way (only polled while there is one).
async fn poll_claim(claiming: &mut Option<Claiming>) -> Result<Vec<Claimed>, StoreError> {
    match claiming.as_mut() {
        // A claim task that panicked took nothing it can give back; one cancelled was
        // stopped with the worker.
        Some(c) => c.await.unwrap_or_else(|e| {
            Err(match e.is_panic() {
                true => StoreError::Panicked,
                false => StoreError::Closed,
            })
        }),
        None => std::future::pending().await,
    }
}

/// Submits one message and turns the attempt into the outcome to record; the slots travel
/// with it to the recorder.
async fn submit_one<P: Provider + ?Sized>(
    provider: &P,
    account: ProviderAccountId,
    s: &SubmitSettings,
    c: Claimed,
    slots: OwnedSemaphorePermit,
) -> Done {
    let started = std::time::Instant::now();
    s.metrics.submit_started(account.0);
    let attempt = provider.submit(&c.message, &c.taken).await;
    let o = outcome(&c.message, &c.taken, attempt, s, now_ms());
    let kind = match o.result {
        SubmitResult::Submitted { .. }
        | SubmitResult::Segments {
            rest: Rest::Submitted,
            ..
        } => SubmitKind::Submitted,
        SubmitResult::Retry { .. }
        | SubmitResult::Segments {
            rest: Rest::Retry { .. },
            ..
        } => SubmitKind::Retried,
        SubmitResult::Failed { .. }
        | SubmitResult::Segments {
            rest: Rest::Failed { .. },
            ..
        } => SubmitKind::Failed,
    };
    s.metrics.submit(account.0, kind, started.elapsed());
    Done {
        outcome: o,
        _slots: slots,
    }
}

/// Gives claimed messages that were never submitted back to the queue; those held past
/// half their lease are left to its end (by then this worker may hold them again, under a
/// new claim that giving back would undo).
async fn give_back(
    store: &Store,
    account: ProviderAccountId,
    owner: &str,
    mut ready: VecDeque<Claimed>,
) {
    drop_late(&mut ready);
    if ready.is_empty() {
        return;
    }
    let ids: Vec<_> = ready.iter().map(|c| c.message.id).collect();
    if let Err(e) = store.release_claims(owner, &ids).await {
        tracing::warn!(account = account.0, error = %e, "giving back claimed messages failed; their lease will run out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulak_core::model::ProviderSettings;

    fn account(window: u32, binds: u32, rate: u32) -> ProviderAccount {
        let mut a = blank();
        if let ProviderSettings::Smpp(s) = &mut a.settings {
            s.window = window;
            s.binds = binds;
        }
        a.rate_per_sec = rate;
        a
    }

    fn blank() -> ProviderAccount {
        use ulak_core::model::{BindMode, CompanyId, ProviderKind, SmppSettings, TonNpi};
        ProviderAccount {
            id: ProviderAccountId(1),
            company_id: CompanyId(1),
            name: "a".into(),
            kind: ProviderKind::Smpp,
            has_password: false,
            has_token: false,
            rate_per_sec: 50,
            text_policy: ulak_text::Policy::default(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
            settings: ProviderSettings::Smpp(SmppSettings {
                host: "h".into(),
                port: 1,
                system_id: "s".into(),
                system_type: String::new(),
                bind_mode: BindMode::Transceiver,
                binds: 1,
                window: 10,
                source: TonNpi { ton: 5, npi: 0 },
                destination: TonNpi { ton: 1, npi: 1 },
            }),
        }
    }

    #[test]
    fn a_woken_worker_claims_only_what_overtakes_what_it_holds_and_within_two_claims() {
        use Overtake::{Claim, NoRoom, Nothing};
        use TrafficClass::{Campaign, Otp, Transactional};
        let cases = [
            // (least urgent held, held, claim) -> what it does
            ((None, 0, 100), Nothing),
            ((Some(Campaign), 150, 100), Claim(Transactional, 50)),
            ((Some(Campaign), 60, 100), Claim(Transactional, 100)),
            // The regular claim runs anyway, most urgent lanes first.
            ((Some(Campaign), 50, 100), Nothing),
            ((Some(Transactional), 120, 100), Claim(Otp, 80)),
            ((Some(Transactional), 200, 100), NoRoom),
            ((Some(Campaign), 5_000, 100), NoRoom),
            ((Some(Otp), 150, 100), Nothing),
        ];
        for ((least, held, claim), want) in cases {
            assert_eq!(
                overtaking(least, held, claim),
                want,
                "{least:?} {held} {claim}"
            );
        }
    }

    #[test]
    fn the_flight_is_the_window_and_claims_follow_the_rate() {
        // The default account: 1 bind × window 10 at 50/s.
        assert_eq!(
            Flight::for_account(&account(10, 1, 50), 1000),
            Flight {
                slots: 10,
                claim: 500
            }
        );
        assert_eq!(
            Flight::for_account(&account(100, 2, 100_000), 1000),
            Flight {
                slots: 200,
                claim: 1000
            }
        );
        // A slow account still claims at least its window.
        assert_eq!(
            Flight::for_account(&account(50, 2, 1), 1000),
            Flight {
                slots: 100,
                claim: 100
            }
        );
    }
}
