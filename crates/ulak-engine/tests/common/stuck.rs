//! A provider whose submits are never answered (an SMSC that stalled with the window full),
//! paused when a test says, and how many messages are held under a lease.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use ulak_core::model::*;
use ulak_engine::provider::LinkHealth;
use ulak_engine::{Attempt, Provider};
use ulak_store::Store;

/// A provider whose submits are never answered, paused when the test says.
pub struct Stuck {
    pub paused: Arc<AtomicBool>,
}

impl Provider for Stuck {
    fn submit<'a>(&'a self, _: &'a Message, _: &'a [u32]) -> BoxFuture<'a, Attempt> {
        Box::pin(std::future::pending())
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
