//! Simulator settings and the delivery-receipt outcome mix.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The final state the simulator reports for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// stat:DELIVRD, message_state 2.
    Delivered,
    /// stat:UNDELIV, message_state 5.
    Undeliverable,
    /// stat:EXPIRED, message_state 3.
    Expired,
    /// stat:REJECTD, message_state 8.
    Rejected,
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "delivered" | "delivrd" => Ok(Outcome::Delivered),
            "undeliverable" | "undeliv" => Ok(Outcome::Undeliverable),
            "expired" => Ok(Outcome::Expired),
            "rejected" | "rejectd" => Ok(Outcome::Rejected),
            other => Err(format!(
                "unknown outcome {other:?}: expected delivered, undeliverable, expired or rejected"
            )),
        }
    }
}

/// Which outcome each message gets: destination-prefix rules first, then weights.
///
/// Text form (the `--dlr-mix` flag): comma-separated items, `outcome:weight` for the random
/// share and `prefix=outcome` for a destination prefix, e.g.
/// `delivered:90,undeliverable:5,expired:3,rejected:2,90555=rejected`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlrMix {
    /// (destination prefix, outcome), longest prefix wins.
    pub prefixes: Vec<(String, Outcome)>,
    /// (outcome, weight) for every other destination.
    pub weights: Vec<(Outcome, u32)>,
}

impl Default for DlrMix {
    fn default() -> Self {
        DlrMix {
            prefixes: Vec::new(),
            weights: vec![(Outcome::Delivered, 1)],
        }
    }
}

impl FromStr for DlrMix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut mix = DlrMix {
            prefixes: Vec::new(),
            weights: Vec::new(),
        };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some((prefix, outcome)) = item.split_once('=') {
                mix.prefixes.push((
                    prefix.trim().trim_start_matches('+').to_owned(),
                    outcome.parse()?,
                ));
            } else if let Some((outcome, weight)) = item.split_once(':') {
                let w = weight
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("bad weight in {item:?}"))?;
                mix.weights.push((outcome.parse()?, w));
            } else {
                mix.weights.push((item.parse()?, 1));
            }
        }
        if mix.weights.iter().all(|w| w.1 == 0) {
            mix.weights = vec![(Outcome::Delivered, 1)];
        }
        mix.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Ok(mix)
    }
}

impl DlrMix {
    /// The outcome for `dest`, using `roll` (any u64) for the weighted choice.
    pub fn pick(&self, dest: &str, roll: u64) -> Outcome {
        let d = dest.trim_start_matches('+');
        if let Some((_, o)) = self
            .prefixes
            .iter()
            .find(|(p, _)| d.starts_with(p.as_str()))
        {
            return *o;
        }
        let total: u64 = self.weights.iter().map(|w| u64::from(w.1)).sum();
        if total == 0 {
            return Outcome::Delivered;
        }
        let mut r = roll % total;
        for (o, w) in &self.weights {
            if r < u64::from(*w) {
                return *o;
            }
            r -= u64::from(*w);
        }
        Outcome::Delivered
    }
}

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Accepted (system_id, password) pairs at start ([`super::SimHandle::accounts`] adds more).
    pub accounts: Vec<(String, String)>,
    /// Delay before a delivery receipt is sent.
    pub dlr_delay: Duration,
    /// Receipt outcomes.
    pub dlr_mix: DlrMix,
    /// Delay before a deliver_sm (receipt or inbound) that was answered with an error, or was
    /// unanswered when its link closed, is delivered again.
    pub redeliver_delay: Duration,
    /// submit_sm per second above which ESME_RTHROTTLED is answered (whole simulator).
    pub throttle_per_s: Option<u32>,
    /// Delay before each submit_sm_resp (to hold a client's window open in tests).
    pub resp_delay: Duration,
    /// Close every link once, without answering, when this many submits have arrived.
    pub drop_after_submits: Option<u64>,
    /// Refuse one segment of some concatenated messages once with ESME_RSYSERR.
    pub refuse_segment: Option<super::RefuseSegment>,
    /// Answer enquire_link (false simulates a peer that stopped responding).
    pub answer_enquire_link: bool,
    /// Write message ids in hex (true) or decimal.
    pub hex_ids: bool,
    /// Keep a copy of every submit_sm for tests to inspect.
    pub record_submits: bool,
    /// Largest command_length accepted.
    pub max_command_length: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            accounts: vec![("ulak".into(), "secret".into())],
            dlr_delay: Duration::from_millis(0),
            dlr_mix: DlrMix::default(),
            redeliver_delay: Duration::from_secs(1),
            throttle_per_s: None,
            resp_delay: Duration::ZERO,
            drop_after_submits: None,
            refuse_segment: None,
            answer_enquire_link: true,
            hex_ids: true,
            record_submits: false,
            max_command_length: crate::framing::DEFAULT_MAX_COMMAND_LENGTH,
        }
    }
}
