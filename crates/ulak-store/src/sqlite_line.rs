//! The SQLite writer thread's line of work ([`crate::sqlite_writer`]) in two lanes. An accept
//! group is someone's HTTP request waiting for its answer; a claim piece, a submit record or
//! a receipt batch is the sending side, which waits for no caller. In one first-come line an
//! accept group waited for every such task queued before it; here it waits only for the one
//! in progress. The sending side is not starved: after each task of the first lane the
//! thread takes the next task of the rest, if one is waiting, before the first lane again.
//! So under a steady stream of accept groups the rest still gets every other turn; before,
//! it got everything queued ahead of each group.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

/// Which lane a task joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Taken before anything in [`Lane::Rest`]: accept groups.
    First,
    /// Everything else, first come first served.
    Rest,
}

/// The first lane, beside the channel that carries the rest. The channel also carries a
/// wake-up (`None`) for each task of the first lane, so a taker asleep on it wakes for them;
/// and the channel's own waiting (a short spin before sleeping) is kept: with a lock and a
/// condition variable instead, the writer slept and was woken for every task, and a campaign
/// ran about 5% slower.
type FirstLane<T> = Arc<Mutex<First<T>>>;

/// The first lane's tasks, and whether the taker is gone (then nothing more is queued).
struct First<T> {
    tasks: VecDeque<T>,
    closed: bool,
}

impl<T> Default for First<T> {
    fn default() -> Self {
        First {
            tasks: VecDeque::new(),
            closed: false,
        }
    }
}

/// The first lane, even after a thread panicked holding it: each change to it is one step.
fn lock<T>(first: &FirstLane<T>) -> MutexGuard<'_, First<T>> {
    first.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds work to the line; cloned for each holder.
pub(crate) struct Sender<T> {
    rest: mpsc::Sender<Option<T>>,
    first: FirstLane<T>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// Takes work off the line, [`Lane::First`] before [`Lane::Rest`].
pub(crate) struct Taker<T> {
    rest: mpsc::Receiver<Option<T>>,
    first: FirstLane<T>,
    /// A task of the rest taken off the channel while the first lane had work.
    held: Option<T>,
    /// The last task taken was the first lane's: the rest's next one goes before the next of
    /// the first lane.
    owe_rest: bool,
}

/// A new, empty line.
pub(crate) fn line<T>() -> (Sender<T>, Taker<T>) {
    let (tx, rx) = mpsc::channel();
    let first: FirstLane<T> = Arc::default();
    let sender = Sender {
        rest: tx,
        first: Arc::clone(&first),
    };
    let taker = Taker {
        rest: rx,
        first,
        held: None,
        owe_rest: false,
    };
    (sender, taker)
}

impl<T> Sender<T> {
    /// Queues `item` in `lane`; gives it back if nobody takes work any more.
    pub(crate) fn send(&self, item: T, lane: Lane) -> Result<(), T> {
        match lane {
            Lane::Rest => match self.rest.send(Some(item)) {
                Ok(()) => Ok(()),
                // What comes back is what was sent: never `None`.
                Err(mpsc::SendError(back)) => back.map_or(Ok(()), Err),
            },
            Lane::First => {
                {
                    let mut first = lock(&self.first);
                    if first.closed {
                        return Err(item);
                    }
                    first.tasks.push_back(item);
                }
                // After the push: the taker this wakes finds the task. If the taker is gone
                // meanwhile, its drop took the task and dropped it (its caller sees that).
                let _ = self.rest.send(None);
                Ok(())
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            rest: self.rest.clone(),
            first: Arc::clone(&self.first),
        }
    }
}

impl<T> Taker<T> {
    /// The next task, waiting for one; `None` once every sender is gone and nothing is left.
    pub(crate) fn take(&mut self) -> Option<T> {
        if std::mem::take(&mut self.owe_rest)
            && let Some(item) = self.waiting_rest()
        {
            return Some(item);
        }
        loop {
            if let Some(item) = lock(&self.first).tasks.pop_front() {
                self.owe_rest = true;
                return Some(item);
            }
            if let Some(item) = self.held.take() {
                return Some(item);
            }
            match self.rest.recv() {
                // A first-lane task may have come while this one waited in the channel.
                Ok(Some(item)) => self.held = Some(item),
                // A wake-up: the first lane has work (or had: an earlier look took it).
                Ok(None) => {}
                Err(mpsc::RecvError) => return None,
            }
        }
    }

    /// The rest's next task if one is waiting, without waiting (wake-ups on the way are
    /// dropped: the first lane is looked at directly).
    fn waiting_rest(&mut self) -> Option<T> {
        if let Some(item) = self.held.take() {
            return Some(item);
        }
        while let Ok(next) = self.rest.try_recv() {
            if next.is_some() {
                return next;
            }
        }
        None
    }
}

impl<T> Drop for Taker<T> {
    fn drop(&mut self) {
        // Dropped outside the lock: a task's drop may answer its caller, who may send again.
        let first = {
            let mut first = lock(&self.first);
            first.closed = true;
            std::mem::take(&mut first.tasks)
        };
        drop(first);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_first_lane_goes_before_work_queued_earlier_in_the_rest() {
        let (tx, mut rx) = line::<&str>();
        tx.send("claim", Lane::Rest).unwrap();
        tx.send("record", Lane::Rest).unwrap();
        tx.send("accept", Lane::First).unwrap();
        tx.send("receipts", Lane::Rest).unwrap();
        tx.send("accept 2", Lane::First).unwrap();
        let order: Vec<_> = (0..5).map(|_| rx.take().unwrap()).collect();
        assert_eq!(order, ["accept", "claim", "accept 2", "record", "receipts"]);
    }

    #[test]
    fn the_rest_gets_a_turn_after_each_task_of_the_first_lane() {
        let (tx, mut rx) = line::<&str>();
        tx.send("accept", Lane::First).unwrap();
        tx.send("record", Lane::Rest).unwrap();
        tx.send("accept 2", Lane::First).unwrap();
        assert_eq!(rx.take(), Some("accept"));
        assert_eq!(rx.take(), Some("record"));
        assert_eq!(rx.take(), Some("accept 2"));
        // The first lane again, with nothing of the rest waiting.
        tx.send("accept 3", Lane::First).unwrap();
        assert_eq!(rx.take(), Some("accept 3"));
        tx.send("receipts", Lane::Rest).unwrap();
        assert_eq!(rx.take(), Some("receipts"));
    }

    #[test]
    fn the_taker_ends_once_every_sender_is_gone_and_the_work_is_done() {
        let (tx, mut rx) = line::<u32>();
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
