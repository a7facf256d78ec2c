//! What the subscriber, group and customer-account screens share: the list's search and
//! keyset paging in the query string, links to the send window, and how personal numbers and
//! money are shown.
//!
//! Paging is the store's forward-only cursor; "previous" works from a short trail of the
//! cursors already passed (`back`), carried in the links themselves so nothing is kept on
//! the server.

use serde::Deserialize;
use ulak_core::Tckn;
use ulak_core::model::{GroupId, ListQuery};
use ulak_core::{Code, Lang};

use super::i18n::Texts;

/// How many earlier pages "previous" can step back through; beyond them it goes to the first.
const TRAIL: usize = 20;

/// A list's query string: the search, the page's cursor, and the cursors of earlier pages.
#[derive(Debug, Default, Deserialize)]
pub struct ListForm {
    /// Search text (name, phone, code), as the API's `search`.
    pub q: Option<String>,
    /// The store's cursor of this page (absent: the first page).
    pub cursor: Option<String>,
    /// Comma-separated cursors of the pages before this one (the first page has none).
    pub back: Option<String>,
}

/// The links of a list's pager (absent: no such page).
pub struct Paging {
    /// The first page, when this is not it.
    pub first: Option<String>,
    /// The page before.
    pub prev: Option<String>,
    /// The page after.
    pub next: Option<String>,
}

impl ListForm {
    /// The search text as typed (for the search field).
    pub fn search(&self) -> &str {
        self.q.as_deref().unwrap_or("")
    }

    /// The store's query for this page, checked as the API checks it; `Err` is the first
    /// broken field's stable code.
    pub fn query(&self, limit: Option<u32>, group: Option<GroupId>) -> Result<ListQuery, Code> {
        let search = self.q.clone().filter(|q| !q.trim().is_empty());
        let cursor = self.cursor.clone().filter(|c| !c.is_empty());
        ListQuery::parse(limit, cursor, search, group)
            .map_err(|e| e.0.first().map_or(Code::ValueInvalid, |f| f.code))
    }

    /// The earlier pages' cursors, as far as they look like cursors (the store checks them
    /// again when a link is followed).
    fn trail(&self) -> Vec<&str> {
        let looks_right = |c: &&str| {
            !c.is_empty() && c.len() <= 17 && c.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        let all: Vec<&str> = self
            .back
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(looks_right)
            .collect();
        all[all.len().saturating_sub(TRAIL)..].to_vec()
    }

    /// The pager's links for a page of `path` whose store answer had `next_cursor`.
    pub fn paging(&self, path: &str, next_cursor: Option<&str>) -> Paging {
        self.paging_with(path, next_cursor, &[])
    }

    /// [`ListForm::paging`] for a list with filters of its own, which every link keeps.
    pub fn paging_with(
        &self,
        path: &str,
        next_cursor: Option<&str>,
        filters: &[(&str, String)],
    ) -> Paging {
        let here = self.cursor.as_deref().filter(|c| !c.is_empty());
        let trail = self.trail();
        let link = |cursor: Option<&str>, back: &[&str]| {
            let mut pairs = filters.to_vec();
            if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
                pairs.push(("q", q.to_owned()));
            }
            if let Some(c) = cursor {
                pairs.push(("cursor", c.to_owned()));
            }
            if !back.is_empty() {
                pairs.push(("back", back.join(",")));
            }
            href(path, &pairs)
        };
        let prev = here.map(|_| match trail.split_last() {
            Some((last, before)) => link(Some(last), before),
            None => link(None, &[]),
        });
        let next = next_cursor.map(|n| {
            let mut back = trail.clone();
            back.extend(here);
            let cut = back.len().saturating_sub(TRAIL);
            link(Some(n), &back[cut..])
        });
        Paging {
            first: here.map(|_| link(None, &[])),
            prev,
            next,
        }
    }
}

/// `path?k=v&…` with the values percent-encoded.
pub fn href(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The alert a list shows instead of rows when its query was refused.
pub fn refusal(t: Texts, code: Code) -> String {
    code.text(Lang::from(t.language())).to_owned()
}

/// A TC ID number with all but its last two digits hidden: enough to tell two people apart
/// on a screen without showing the number.
pub fn masked_tckn(t: &Tckn) -> String {
    let digits = t.as_string();
    let keep = digits.len().saturating_sub(2);
    format!("{}{}", "•".repeat(keep), &digits[keep..])
}

/// Money in minor units (kuruş) as the language writes it: 1.234,56 / 1,234.56.
pub fn money(minor: i64, t: Texts) -> String {
    let whole = super::format::integer(minor / 100, t.language());
    let cents = (minor % 100).unsigned_abs();
    let sign = if minor < 0 && minor > -100 { "-" } else { "" };
    let point = match t.language() {
        ulak_core::model::Language::Tr => ',',
        ulak_core::model::Language::En => '.',
    };
    format!("{sign}{whole}{point}{cents:02}")
}

/// Unix milliseconds as a date and time on `zone`'s clock (dd.mm.yyyy hh:mm).
pub fn when(ms: i64, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(ms)
        .map(|ts| tz.to_datetime(ts).strftime("%d.%m.%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// The ids a form sent under `name` (checkboxes repeat the name); `None` if one is not an id.
pub fn ids(fields: &[(String, String)], name: &str) -> Option<Vec<i64>> {
    fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.parse::<i64>().ok().filter(|id| *id > 0))
        .collect()
}

/// The value of a form's field `name` (the first, if repeated).
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulak_core::model::Language;

    fn form(q: Option<&str>, cursor: Option<&str>, back: Option<&str>) -> ListForm {
        ListForm {
            q: q.map(str::to_owned),
            cursor: cursor.map(str::to_owned),
            back: back.map(str::to_owned),
        }
    }

    #[test]
    fn the_first_page_links_only_forward() {
        let p = form(Some("ş a&b"), None, None).paging("/subscribers", Some("c32"));
        assert_eq!(p.first, None);
        assert_eq!(p.prev, None);
        assert_eq!(
            p.next.as_deref(),
            Some("/subscribers?q=%C5%9F%20a%26b&cursor=c32")
        );
    }

    #[test]
    fn previous_steps_back_through_the_trail() {
        let p = form(None, Some("c64"), Some("c32")).paging("/x", Some("c96"));
        assert_eq!(p.prev.as_deref(), Some("/x?cursor=c32"));
        assert_eq!(p.next.as_deref(), Some("/x?cursor=c96&back=c32%2Cc64"));
        assert_eq!(p.first.as_deref(), Some("/x"));
        let second = form(None, Some("c32"), None).paging("/x", None);
        assert_eq!(second.prev.as_deref(), Some("/x"));
        assert_eq!(second.next, None);
    }

    #[test]
    fn the_trail_keeps_only_cursor_like_entries_and_is_bounded() {
        let p = form(None, Some("c2"), Some("c1,<x>,,\"")).paging("/x", None);
        assert_eq!(p.prev.as_deref(), Some("/x?cursor=c1"));
        let long: Vec<String> = (1..=40).map(|i| format!("c{i:x}")).collect();
        let p = form(None, Some("c99"), Some(&long.join(","))).paging("/x", Some("c100"));
        let next = p.next.unwrap_or_default();
        assert_eq!(next.matches("%2C").count(), TRAIL - 1, "{next}");
    }

    #[test]
    fn a_bad_cursor_or_search_is_refused_with_the_api_code() {
        assert_eq!(
            form(None, Some("zz"), None).query(None, None),
            Err(Code::CursorInvalid)
        );
        assert!(form(Some("ali"), None, None).query(None, None).is_ok());
        assert!(form(Some("a\u{7}"), None, None).query(None, None).is_err());
    }

    #[test]
    fn tc_id_numbers_show_only_their_last_two_digits() {
        let t: Tckn = "10000000146".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(masked_tckn(&t), "•••••••••46");
    }

    #[test]
    fn money_is_written_per_language() {
        let tr = Texts::new(Language::Tr);
        assert_eq!(money(123_456, tr), "1.234,56");
        assert_eq!(money(-5, tr), "-0,05");
        assert_eq!(money(-150, tr), "-1,50");
        assert_eq!(money(10_000_007, Texts::new(Language::En)), "100,000.07");
    }

    #[test]
    fn form_ids_are_positive_integers() {
        let f = vec![
            ("csrf".to_owned(), "x".to_owned()),
            ("subscribers".to_owned(), "3".to_owned()),
            ("subscribers".to_owned(), "7".to_owned()),
        ];
        assert_eq!(ids(&f, "subscribers"), Some(vec![3, 7]));
        assert_eq!(field(&f, "csrf"), "x");
        let bad = vec![("subscribers".to_owned(), "-1".to_owned())];
        assert_eq!(ids(&bad, "subscribers"), None);
    }
}
