//! The SQLite writer thread's line of work ([`crate::sqlite_writer`]) in two lanes. An accept
//! group is someone's HTTP request waiting for its answer; a claim piece, a submit record or
//! a receipt batch is the sending side, which waits for no caller. In one first-come line an
//! accept group waited for every such task queued before it; here it waits only for the one
//! in progress. The sending side is not starved: an accept lane holds one group at a time
//! (its committer sends the next one only once the last is answered), so the thread takes
//! the other lane's next task between any two groups.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Which lane a task joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Taken before anything in [`Lane::Rest`]: accept groups.
    First,
    /// Everything else, first come first served.
    Rest,
}

struct Lanes<T> {
    first: VecDeque<T>,
    rest: VecDeque<T>,
    /// Handles that can still add work; the taker stops once none is left and all is done.
    senders: usize,
    /// Whether the taker is still there to run what is added.
    taking: bool,
}

struct Shared<T> {
    lanes: Mutex<Lanes<T>>,
    added: Condvar,
}

impl<T> Shared<T> {
    /// The lanes, even after a thread panicked holding them: they are two queues and two
    /// counters, each change to them a single step.
    fn lock(&self) -> MutexGuard<'_, Lanes<T>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Adds work to the line; cloned for each holder.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// Takes work off the line, [`Lane::First`] before [`Lane::Rest`].
pub(crate) struct Taker<T>(Arc<Shared<T>>);

/// A new, empty line.
pub(crate) fn line<T>() -> (Sender<T>, Taker<T>) {
    let shared = Arc::new(Shared {
        lanes: Mutex::new(Lanes {
            first: VecDeque::new(),
            rest: VecDeque::new(),
            senders: 1,
            taking: true,
        }),
        added: Condvar::new(),
    });
    (Sender(Arc::clone(&shared)), Taker(shared))
}

impl<T> Sender<T> {
    /// Queues `item` in `lane`; gives it back if nobody takes work any more.
    pub(crate) fn send(&self, item: T, lane: Lane) -> Result<(), T> {
        let mut l = self.0.lock();
        if !l.taking {
            return Err(item);
        }
        match lane {
            Lane::First => l.first.push_back(item),
            Lane::Rest => l.rest.push_back(item),
        }
        drop(l);
        self.0.added.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(Arc::clone(&self.0))
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut l = self.0.lock();
        l.senders = l.senders.saturating_sub(1);
        let last = l.senders == 0;
        drop(l);
        if last {
            self.0.added.notify_all();
        }
    }
}

impl<T> Taker<T> {
    /// The next task, waiting for one; `None` once every sender is gone and nothing is left.
    pub(crate) fn take(&self) -> Option<T> {
        let mut l = self.0.lock();
        loop {
            if let Some(item) = l.first.pop_front().or_else(|| l.rest.pop_front()) {
                return Some(item);
            }
            if l.senders == 0 {
                return None;
            }
            l = self.0.added.wait(l).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<T> Drop for Taker<T> {
    fn drop(&mut self) {
        // What is still queued is dropped outside the lock: a task's drop may answer its
        // caller, who may send again.
        let (first, rest) = {
            let mut l = self.0.lock();
            l.taking = false;
            (std::mem::take(&mut l.first), std::mem::take(&mut l.rest))
        };
        drop(first);
        drop(rest);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_first_lane_goes_before_work_queued_earlier_in_the_other() {
        let (tx, rx) = line::<&str>();
        tx.send("claim", Lane::Rest).unwrap();
        tx.send("record", Lane::Rest).unwrap();
        tx.send("accept", Lane::First).unwrap();
        tx.send("receipts", Lane::Rest).unwrap();
        tx.send("accept 2", Lane::First).unwrap();
        let order: Vec<_> = (0..5).map(|_| rx.take().unwrap()).collect();
        assert_eq!(order, ["accept", "accept 2", "claim", "record", "receipts"]);
    }

    #[test]
    fn the_taker_ends_once_every_sender_is_gone_and_the_work_is_done() {
        let (tx, rx) = line::<u32>();
        let other = tx.clone();
        tx.send(1, Lane::Rest).unwrap();
        drop(tx);
        other.send(2, Lane::First).unwrap();
        let taker =
            std::thread::spawn(move || std::iter::from_fn(|| rx.take()).collect::<Vec<_>>());
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Still waiting: a sender is left.
        assert!(!taker.is_finished());
        other.send(3, Lane::Rest).unwrap();
        drop(other);
        assert_eq!(taker.join().unwrap(), [2, 1, 3]);
    }

    #[test]
    fn work_sent_after_the_taker_is_gone_comes_back() {
        let (tx, rx) = line::<u32>();
        tx.send(1, Lane::Rest).unwrap();
        drop(rx);
        assert_eq!(tx.send(2, Lane::First), Err(2));
    }
}
