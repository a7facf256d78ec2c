//! The language a user sees the web UI in.

use serde::{Deserialize, Serialize};

/// A web UI language; a user's choice is remembered with the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Turkish: the default, as Ulak is made for Turkish operators first.
    #[default]
    Tr,
    /// English.
    En,
}

stable_names!(Language { Tr => "tr", En => "en" });

/// The language of error texts ([`crate::Lang`], whose default is English for API clients)
/// for a web UI user who chose `l`.
impl From<Language> for crate::Lang {
    fn from(l: Language) -> Self {
        match l {
            Language::Tr => crate::Lang::Tr,
            Language::En => crate::Lang::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for l in [Language::Tr, Language::En] {
            assert_eq!(l.as_str().parse::<Language>(), Ok(l));
            let json = serde_json::to_string(&l).expect("serializes");
            assert_eq!(json, format!("\"{}\"", l.as_str()));
            assert_eq!(serde_json::from_str::<Language>(&json).ok(), Some(l));
        }
        for bad in ["", "TR", "En", "de", "tr "] {
            assert!(bad.parse::<Language>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Language>("\"de\"").is_err());
        assert_eq!(Language::default(), Language::Tr);
        assert_eq!(crate::Lang::from(Language::Tr), crate::Lang::Tr);
        assert_eq!(crate::Lang::from(Language::En), crate::Lang::En);
    }
}
