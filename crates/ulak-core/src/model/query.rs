//! List queries and cursor pagination.

use crate::Code;
use serde::{Deserialize, Serialize};

use super::validation::{Lines, check_controls, check_length};
use super::{GroupId, ValidationErrors, limits};

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
/// Page size when none is asked for.
const DEFAULT_LIMIT: u32 = 50;

/// One page of a list, in ascending id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Pass back as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a list call asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ListQuery {
    /// Page size; `None` means 50, more than 500 is cut to 500.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Substring of the name or phone number (case-insensitive, Turkish-aware).
    pub search: Option<String>,
    /// Only members of this group (subscriber lists only).
    pub group_id: Option<GroupId>,
}

impl ListQuery {
    /// A query as a client gives it, checked: `limit` 1..=500, `cursor` a `next_cursor` this
    /// server gave, `search` at most [`limits::SEARCH`] characters without control characters.
    pub fn parse(
        limit: Option<u32>,
        cursor: Option<String>,
        search: Option<String>,
        group_id: Option<GroupId>,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        if limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
            e.push("limit", Code::ValueOutOfRange, "must be from 1 to 500");
        }
        if cursor
            .as_deref()
            .is_some_and(|c| decode_cursor(c).is_none())
        {
            e.push("cursor", Code::CursorInvalid, "invalid cursor");
        }
        if let Some(s) = &search {
            e.take(
                "search",
                check_length(s, limits::SEARCH).and_then(|()| check_controls(s, Lines::One)),
            );
        }
        e.finish(|| {
            Some(Self {
                limit,
                cursor,
                search,
                group_id,
            })
        })
    }

    /// The page size to use: 1..=500.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// The id the page starts after, decoded from the cursor.
    pub fn after_id(&self) -> Result<Option<i64>, ValidationErrors> {
        match self.cursor.as_deref() {
            None => Ok(None),
            Some(c) => decode_cursor(c).map(Some).ok_or_else(|| {
                ValidationErrors::single("cursor", Code::CursorInvalid, "invalid cursor")
            }),
        }
    }

    /// The search text, trimmed, if any.
    pub fn search_text(&self) -> Option<&str> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The search text folded with [`search_fold`], if any.
    pub fn search_key(&self) -> Option<String> {
        self.search_text().map(search_fold)
    }
}

/// Cursor for the page after the row with `id`. The form ("c" + hex) is an implementation
/// detail clients must not rely on.
pub fn encode_cursor(id: i64) -> String {
    format!("c{id:x}")
}

/// Reverses [`encode_cursor`]: exactly `c` and 1 to 16 lower-case hex digits of a
/// non-negative `i64` (the API documents the pattern `^c([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$`).
fn decode_cursor(c: &str) -> Option<i64> {
    let hex = c.strip_prefix('c')?;
    let digits = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex.is_empty() || hex.len() > 16 || !digits {
        return None;
    }
    i64::from_str_radix(hex, 16).ok()
}

/// Folds text for forgiving search: [`fold`], then the Turkish letters to their plain Latin
/// look-alikes (`ı`→`i`, `ş`→`s`, `ğ`→`g`, `ç`→`c`, `ö`→`o`, `ü`→`u`, circumflexes dropped),
/// because people type "isik" or "ISIK" for "Işık" and expect to find it.
pub fn search_fold(s: &str) -> String {
    fold(s)
        .chars()
        .map(|c| match c {
            'ı' | 'î' => 'i',
            'ş' => 's',
            'ğ' => 'g',
            'ç' => 'c',
            'ö' => 'o',
            'ü' | 'û' => 'u',
            'â' => 'a',
            c => c,
        })
        .collect()
}

/// Folds text for case-insensitive search: Turkish-aware lower case (`I` → `ı`, `İ` → `i`),
/// because SQLite's `LOWER` only knows ASCII and PostgreSQL's depends on the locale.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'I' => out.push('ı'),
            'İ' => out.push('i'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}
