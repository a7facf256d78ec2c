//! A campaign's life: its states and the actions that move it, in one table
//! ([`CampaignState::after`]). The store applies a transition only from a state this table
//! allows; nothing else compares campaign states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validation::RuleError;
use crate::Code;

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Being prepared; nothing queued.
    Draft,
    /// Its messages are being queued and sent.
    Running,
    /// Nothing is handed out (by a user, or for credit, or a setup fault while queueing).
    Paused,
    /// Every message reached a final state.
    Finished,
    /// Cancelled: what was not submitted never will be.
    Cancelled,
}

/// What moves a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignAction {
    /// A user starts a draft (or one paused for credit before it started) and its
    /// reservation is made.
    Start,
    /// Starting found the balance short (at once, or once the audience was priced while it
    /// ran): it waits, paused, with the reason.
    WaitForCredit,
    /// A user pauses it.
    Pause,
    /// Queueing stopped (credit ran short, the setup broke): paused (or left paused) with the
    /// reason.
    Halt,
    /// A user resumes it.
    Resume,
    /// A user cancels it.
    Cancel,
    /// Its last message reached a final state.
    Finish,
}

impl CampaignState {
    /// Every state.
    pub const ALL: [CampaignState; 5] = [
        Self::Draft,
        Self::Running,
        Self::Paused,
        Self::Finished,
        Self::Cancelled,
    ];

    /// The state `action` moves a campaign in this state to, or `None` when it does not
    /// apply here. The one table of campaign transitions.
    pub fn after(self, action: CampaignAction) -> Option<CampaignState> {
        use CampaignAction as A;
        use CampaignState as S;
        match (self, action) {
            (S::Draft | S::Paused, A::Start) => Some(S::Running),
            (S::Draft | S::Running | S::Paused, A::WaitForCredit) => Some(S::Paused),
            (S::Running, A::Pause) => Some(S::Paused),
            (S::Running | S::Paused, A::Halt) => Some(S::Paused),
            (S::Paused, A::Resume) => Some(S::Running),
            (S::Draft | S::Running | S::Paused, A::Cancel) => Some(S::Cancelled),
            (S::Running, A::Finish) => Some(S::Finished),
            _ => None,
        }
    }

    /// The states `action` applies to.
    pub fn sources(action: CampaignAction) -> Vec<CampaignState> {
        Self::ALL
            .into_iter()
            .filter(|s| s.after(action).is_some())
            .collect()
    }

    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finished | Self::Cancelled)
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
        }
    }
}

impl CampaignAction {
    /// Every action.
    pub const ALL: [CampaignAction; 7] = [
        Self::Start,
        Self::WaitForCredit,
        Self::Pause,
        Self::Halt,
        Self::Resume,
        Self::Cancel,
        Self::Finish,
    ];
}

impl FromStr for CampaignState {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                RuleError::new(
                    Code::ValueInvalid,
                    "expected one of: draft running paused finished cancelled",
                )
            })
    }
}

impl fmt::Display for CampaignState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignAction as A;
    use CampaignState as S;

    /// Every (state, action) pair, written out: the transitions a campaign may make.
    #[test]
    fn the_transition_table() {
        let table: [(S, [Option<S>; 7]); 5] = [
            //            Start          WaitForCredit   Pause          Halt           Resume         Cancel              Finish
            (
                S::Draft,
                [
                    Some(S::Running),
                    Some(S::Paused),
                    None,
                    None,
                    None,
                    Some(S::Cancelled),
                    None,
                ],
            ),
            (
                S::Running,
                [
                    None,
                    Some(S::Paused),
                    Some(S::Paused),
                    Some(S::Paused),
                    None,
                    Some(S::Cancelled),
                    Some(S::Finished),
                ],
            ),
            (
                S::Paused,
                [
                    Some(S::Running),
                    Some(S::Paused),
                    None,
                    Some(S::Paused),
                    Some(S::Running),
                    Some(S::Cancelled),
                    None,
                ],
            ),
            (S::Finished, [None; 7]),
            (S::Cancelled, [None; 7]),
        ];
        for (from, row) in table {
            for (action, want) in A::ALL.into_iter().zip(row) {
                assert_eq!(from.after(action), want, "{from} {action:?}");
            }
        }
        assert_eq!(
            CampaignState::sources(A::Cancel),
            [S::Draft, S::Running, S::Paused]
        );
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(s));
            // Final states take no action.
            assert_eq!(
                s.is_final(),
                A::ALL.iter().all(|a| s.after(*a).is_none()),
                "{s}"
            );
        }
        assert!("Running".parse::<S>().is_err());
    }
}
