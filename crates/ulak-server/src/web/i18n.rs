//! The UI's texts: one catalogue per language (`web/i18n/<lang>.txt`, compiled in), read once.
//! A key missing from a catalogue shows as the key itself; the tests fail on any key a
//! template or handler uses that a catalogue lacks, and on catalogues with different keys.

use std::collections::HashMap;
use std::sync::OnceLock;

use ulak_core::model::Language;

const TR: &str = include_str!("../../web/i18n/tr.txt");
const EN: &str = include_str!("../../web/i18n/en.txt");

/// Parses `key = text` lines; `#` starts a comment line.
pub(crate) fn parse(source: &'static str) -> HashMap<&'static str, &'static str> {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn catalogue(language: Language) -> &'static HashMap<&'static str, &'static str> {
    static TR_MAP: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    static EN_MAP: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    match language {
        Language::Tr => TR_MAP.get_or_init(|| parse(TR)),
        Language::En => EN_MAP.get_or_init(|| parse(EN)),
    }
}

/// The texts of one language, as templates use them (`t.get("key")`).
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    language: Language,
}

impl Texts {
    /// The texts of `language`.
    pub fn new(language: Language) -> Self {
        Self { language }
    }

    /// The language's code, for `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.language.as_str()
    }

    /// The language these texts are in.
    pub fn language(&self) -> Language {
        self.language
    }

    /// The text of `key` (the key itself when missing: visible, and caught by the tests).
    pub fn get<'k>(&self, key: &'k str) -> &'k str {
        catalogue(self.language).get(key).copied().unwrap_or(key)
    }

    /// The text of `key` with `{name}` replaced by `value` (values are escaped by the
    /// template, as the text itself).
    pub fn with(&self, key: &str, name: &str, value: &str) -> String {
        self.get(key).replace(&format!("{{{name}}}"), value)
    }
}

/// Both catalogues' sources, for the tests.
#[cfg(test)]
pub(crate) fn sources() -> [(&'static str, &'static str); 2] {
    [("tr", TR), ("en", EN)]
}
