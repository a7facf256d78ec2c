//! Whose requests a lane's next group takes. Companies take turns, one request each, so a
//! company that floods its lane with batches holds another's single send back by the group
//! it shares with them, not by everything it queued first. Within a company its requests
//! keep their order. A company has at most 512 requests in its lane (the places of
//! [`super::Accepts`]), so one flood cannot fill the channel in front of the turns either.

use std::collections::{HashMap, VecDeque};

/// Requests waiting in one lane, by company.
pub(super) struct Turns<J> {
    /// Companies with requests waiting, in the order of their turns.
    order: VecDeque<i64>,
    /// Each waiting company's requests, oldest first, with their message counts.
    waiting: HashMap<i64, VecDeque<(usize, J)>>,
    /// Requests waiting in all.
    requests: usize,
}

impl<J> Default for Turns<J> {
    fn default() -> Self {
        Self {
            order: VecDeque::new(),
            waiting: HashMap::new(),
            requests: 0,
        }
    }
}

impl<J> Turns<J> {
    /// Queues a request of `messages` messages from `company` behind its earlier ones.
    pub(super) fn push(&mut self, company: i64, messages: usize, request: J) {
        let queue = self.waiting.entry(company).or_default();
        if queue.is_empty() {
            self.order.push_back(company);
        }
        queue.push_back((messages, request));
        self.requests += 1;
    }

    /// Requests waiting.
    pub(super) fn len(&self) -> usize {
        self.requests
    }

    /// Whether nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// The next group: a request of each company in turn while the group stays within `max`
    /// messages. The first request is taken whatever its size (a batch larger than `max` is
    /// a group of its own); a company whose next request does not fit keeps the first turn
    /// of the next group. A company served goes to the back of the turns.
    pub(super) fn next_group(&mut self, max: usize) -> Vec<J> {
        let mut group = Vec::new();
        let mut size = 0;
        while size < max {
            let Some(company) = self.order.pop_front() else {
                break;
            };
            let Some(queue) = self.waiting.get_mut(&company) else {
                continue;
            };
            let fits = match queue.front() {
                Some((n, _)) => group.is_empty() || size + n <= max,
                None => {
                    self.waiting.remove(&company);
                    continue;
                }
            };
            if !fits {
                self.order.push_front(company);
                break;
            }
            if let Some((n, request)) = queue.pop_front() {
                size += n;
                group.push(request);
                self.requests -= 1;
            }
            if queue.is_empty() {
                self.waiting.remove(&company);
            } else {
                self.order.push_back(company);
            }
        }
        group
    }
}

#[cfg(test)]
mod tests {
    use super::Turns;

    /// Requests named by their company (a letter) and their place among its requests.
    fn groups(pushes: &[(char, usize)], max: usize) -> Vec<Vec<String>> {
        let mut turns = Turns::default();
        let mut nth = std::collections::HashMap::new();
        for &(company, messages) in pushes {
            let k = nth.entry(company).or_insert(0);
            *k += 1;
            turns.push(company as i64, messages, format!("{company}{k}"));
        }
        let mut out = Vec::new();
        while !turns.is_empty() {
            out.push(turns.next_group(max));
        }
        assert_eq!(turns.len(), 0);
        out
    }

    /// What waits, in arrival order (a company and its request's messages); the group limit;
    /// the groups it makes, in order.
    type Case = (
        &'static [(char, usize)],
        usize,
        &'static [&'static [&'static str]],
    );

    #[test]
    fn companies_take_turns_and_keep_their_own_order() {
        let table: &[Case] = &[
            // One company: its requests in order, as many as fit.
            (
                &[('a', 1), ('a', 1), ('a', 1)],
                2,
                &[&["a1", "a2"], &["a3"]],
            ),
            // A flood of batches ahead of a single send: the single goes in the first group.
            (
                &[('a', 1000), ('a', 1000), ('a', 1000), ('a', 1000), ('b', 1)],
                2000,
                &[&["a1", "b1"], &["a2", "a3"], &["a4"]],
            ),
            // Three companies, one request each per turn.
            (
                &[('a', 1), ('a', 1), ('a', 1), ('b', 1), ('c', 1), ('b', 1)],
                4,
                &[&["a1", "b1", "c1", "a2"], &["b2", "a3"]],
            ),
            // A request larger than the limit is a group of its own.
            (&[('a', 5000), ('b', 1)], 4000, &[&["a1"], &["b1"]]),
            // A request that does not fit keeps the first turn of the next group.
            (
                &[('a', 3), ('b', 3), ('c', 1)],
                4,
                &[&["a1"], &["b1", "c1"]],
            ),
        ];
        for (pushes, max, want) in table {
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|g| g.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(groups(pushes, *max), want, "{pushes:?} within {max}");
        }
    }
}
