//! A provider whose submits are answered only when a test lets them through (an SMSC that
//! stalled with the window full), paused when a test says, and how many messages are held
//! under a lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;
use ulak_core::model::*;
use ulak_engine::provider::LinkHealth;
use ulak_engine::provider::Taken;
use ulak_engine::{Attempt, Provider};
use ulak_store::Store;

/// A provider whose submits wait for a permit of `answers` (none at first: never answered)
/// and are then taken, paused when the test says.
pub struct Stuck {
    pub paused: Arc<AtomicBool>,
    pub answers: Arc<Semaphore>,
    /// The messages whose submits were answered, in order.
    pub sent: Arc<Mutex<Vec<MessageId>>>,
}

impl Stuck {
    /// Not paused, answering nothing.
    pub fn new() -> Stuck {
        Stuck {
            paused: Arc::new(AtomicBool::new(false)),
            answers: Arc::new(Semaphore::new(0)),
            sent: Arc::default(),
        }
    }
}

impl Provider for Stuck {
    fn submit<'a>(&'a self, m: &'a Message, _: &'a [u32]) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            match self.answers.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => std::future::pending().await,
            }
            self.sent.lock().unwrap().push(m.id);
            Attempt {
                taken: vec![Taken {
                    part: 1,
                    operator_id: format!("op-{}", m.id.0),
                }],
                failure: None,
            }
        })
    }

    fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    fn set_down(&self, _: bool) {}

    fn health(&self) -> LinkHealth {
        LinkHealth {
            bound: 1,
            wanted: 1,
            last_error: None,
            failing_streak: 0,
        }
    }

    fn reset_streak(&self) {}

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

pub async fn leased(s: &Store) -> i64 {
    s.count_messages_by_state()
        .await
        .unwrap()
        .into_iter()
        .filter(|(state, _)| state == MessageState::Sending.as_str())
        .map(|(_, n)| n)
        .sum()
}
