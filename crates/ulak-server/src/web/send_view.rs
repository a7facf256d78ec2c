//! What the send window shows: the company's groups, templates and sender headers, the
//! recipients passed in, the credit, and the count of the text by the server's text engine
//! (the same count as `POST /api/v1/count`, so the page, the API and billing agree).

use serde::Serialize;
use ulak_core::model::{
    CompanyId, CustomerAccountId, DEFAULT_VALIDITY_S, GroupId, Language, ListQuery, SubscriberId,
    TextCount,
};
use ulak_store::StoreError;
use ulak_text::{Encoding, Options};

use super::format;
use super::i18n::Texts;
use super::send_picker::{Found, search};
use crate::error::ApiError;
use crate::routes::count::{CountRequest, counted};
use crate::startup::AppState;

/// The send form as posted (or as the query string preselects it).
#[derive(Debug, Default)]
pub(super) struct SendForm {
    pub csrf: String,
    pub action: String,
    pub numbers: String,
    pub tckns: String,
    pub groups: Vec<i64>,
    pub subscribers: Vec<i64>,
    pub customers: Vec<i64>,
    pub template: Option<i64>,
    pub sender: String,
    pub text: String,
    pub schedule: String,
    /// Validity of each message in hours (`None`: the engine's default).
    pub validity: Option<u64>,
    /// The draft a preview made ("Gönder" starts it, "Düzenle" cancels it).
    pub draft: Option<i64>,
    /// The subscriber search typed into the picker.
    pub find: String,
    /// The field the "insert field" button puts into the text.
    pub field: String,
}

impl SendForm {
    /// The form from its fields (checkboxes repeat their name); `None` when an id is not a
    /// number (no browser sends that).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Option<SendForm> {
        let mut f = SendForm::default();
        for (k, v) in pairs {
            let id = || v.trim().parse::<i64>().ok();
            match k.as_str() {
                "csrf" => f.csrf = v,
                "action" => f.action = v,
                "numbers" => f.numbers = v,
                "tckns" => f.tckns = v,
                "group" => f.groups.push(id()?),
                "subscriber" => f.subscribers.push(id()?),
                "customer" => f.customers.push(id()?),
                "template" if v.is_empty() => f.template = None,
                "template" => f.template = Some(id()?),
                "sender" => f.sender = v,
                "text" => f.text = v,
                "schedule" => f.schedule = v,
                "validity" if v.is_empty() => f.validity = None,
                "validity" => f.validity = Some(v.trim().parse().ok()?),
                "draft" if v.is_empty() => f.draft = None,
                "draft" => f.draft = Some(id()?),
                "find" => f.find = v,
                "field" => f.field = v,
                _ => {}
            }
        }
        Some(f)
    }

    /// The validity in hours, the engine's default when none is chosen.
    pub fn validity_hours(&self) -> i64 {
        let h = self.validity.unwrap_or(DEFAULT_VALIDITY_S / 3600);
        i64::try_from(h).unwrap_or(i64::MAX)
    }
}

/// Pasted numbers or TC ID numbers: one per line, or separated by commas or semicolons.
pub(super) fn pasted(text: &str) -> Vec<&str> {
    text.split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Ids from a query value such as `1,2,3` (what is not a number is left out; at most 500).
pub(super) fn ids(list: Option<&str>) -> Vec<i64> {
    list.unwrap_or("")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .take(500)
        .collect()
}

pub(super) struct GroupRow {
    pub id: i64,
    pub name: String,
    pub members: i64,
    pub members_text: String,
    pub checked: bool,
}

/// A subscriber or customer account passed in.
pub(super) struct Picked {
    pub id: i64,
    pub name: String,
    /// Its phone, or its account code.
    pub detail: String,
    /// Phones it stands for (a customer account may have several).
    pub phones: i64,
}

pub(super) struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub body: String,
    pub selected: bool,
}

pub(super) struct SenderRow {
    pub name: String,
    pub selected: bool,
}

/// The count as the page shows it.
pub(super) struct CountView {
    pub chars: String,
    pub segments: String,
    pub segments_n: usize,
    /// The engine's name (`gsm7`, `ucs2`…), for scripts and tests.
    pub encoding: &'static str,
    pub encoding_label: &'static str,
    pub left: String,
    pub too_long: bool,
    /// The character forcing UCS-2, its code point and its stand-in (empty: none).
    pub hint_char: String,
    pub hint_code: String,
    pub hint_with: String,
}

impl CountView {
    /// Before anything is typed.
    pub(super) fn empty() -> CountView {
        CountView {
            chars: "0".into(),
            segments: "0".into(),
            segments_n: 0,
            encoding: "",
            encoding_label: "–",
            left: "–".into(),
            too_long: false,
            hint_char: String::new(),
            hint_code: String::new(),
            hint_with: String::new(),
        }
    }
}

/// The character that makes the text UCS-2, and what GSM character can stand for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Hint {
    /// The character.
    pub char: String,
    /// Its code point, `U+201C`.
    pub code: String,
    /// A stand-in the engine sends in 7 bits, if there is one.
    pub replacement: Option<String>,
}

/// Everything the window shows besides the form's own values.
pub(super) struct View {
    pub tckn_on: bool,
    pub zone: &'static str,
    pub groups: Vec<GroupRow>,
    pub subscribers: Vec<Picked>,
    pub customers: Vec<Picked>,
    pub templates: Vec<TemplateRow>,
    pub senders: Vec<SenderRow>,
    pub credit: i64,
    pub count: CountView,
    pub recipients: i64,
    /// The picker's matches (not yet picked), and whether its search was refused.
    pub found: Vec<Found>,
    pub find_refused: bool,
    /// The validity choices in hours, the form's (or the default) selected.
    pub validities: Vec<ValidityRow>,
}

/// One validity choice.
pub(super) struct ValidityRow {
    pub hours: u64,
    pub label: String,
    pub selected: bool,
}

/// Validity choices offered, hours (the engine takes 1 minute to 72 hours).
const VALIDITY_HOURS: [u64; 8] = [1, 2, 4, 8, 12, 24, 48, 72];

/// Lists are read up to this many rows (the window is no place to page through them).
const LIST_MAX: u32 = 500;

fn first(limit: u32) -> ListQuery {
    ListQuery {
        limit: Some(limit),
        ..ListQuery::default()
    }
}

/// Reads what the window shows for `form`.
pub(super) async fn load(
    state: &AppState,
    company: CompanyId,
    form: &SendForm,
    t: Texts,
) -> Result<View, ApiError> {
    let store = state.store();
    let settings = store.get_sms_settings(company).await?;
    let zone = store
        .get_company(company)
        .await?
        .map_or("Europe/Istanbul", |c| c.country_type.time_zone());
    let groups = groups(state, company, form, t).await?;
    let subscribers = picked_subscribers(state, company, &form.subscribers).await?;
    let customers = picked_customers(state, company, &form.customers).await?;
    let (templates, senders) = choices(state, company, form).await?;
    let tckn_on = settings.is_some_and(|s| s.tckn_subscription_active);
    let recipients = groups
        .iter()
        .filter(|g| g.checked)
        .map(|g| g.members)
        .chain(subscribers.iter().chain(&customers).map(|p| p.phones))
        .sum::<i64>()
        + len(pasted(&form.numbers).len())
        + if tckn_on {
            len(pasted(&form.tckns).len())
        } else {
            0
        };
    let count = if form.text.is_empty() {
        None
    } else {
        count_view(state, company, &form.text, t).await
    }
    .unwrap_or_else(CountView::empty);
    let (found, find_refused) = match search(state, company, &form.find, &form.subscribers).await {
        Ok(found) => (found, false),
        Err(e @ ApiError::Internal(_)) => return Err(e),
        Err(_) => (Vec::new(), true),
    };
    let chosen = u64::try_from(form.validity_hours()).unwrap_or(0);
    let mut hours = VALIDITY_HOURS.to_vec();
    // A value posted from elsewhere stays chosen rather than silently becoming another.
    if !hours.contains(&chosen) {
        hours.push(chosen);
        hours.sort_unstable();
    }
    let validities = hours
        .into_iter()
        .map(|h| ValidityRow {
            hours: h,
            label: t.with("send.validity_hours", "n", &h.to_string()),
            selected: h == chosen,
        })
        .collect();
    Ok(View {
        found,
        find_refused,
        validities,
        tckn_on,
        zone,
        groups,
        subscribers,
        customers,
        templates,
        senders,
        credit: store.credit_balance(company).await?,
        count,
        recipients,
    })
}

/// The company's groups with their member counts, those of `form` checked.
async fn groups(
    state: &AppState,
    company: CompanyId,
    form: &SendForm,
    t: Texts,
) -> Result<Vec<GroupRow>, StoreError> {
    let store = state.store();
    let groups = store.list_groups(company, &first(LIST_MAX)).await?.items;
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let counts = store.group_member_counts(company, &ids).await?;
    Ok(groups
        .into_iter()
        .map(|g| {
            let members = counts.get(&g.id.0).copied().unwrap_or(0);
            GroupRow {
                id: g.id.0,
                name: g.name.as_str().to_owned(),
                members,
                members_text: format::integer(members, t.language()),
                checked: form.groups.contains(&g.id.0),
            }
        })
        .collect())
}

/// The company's templates and sender headers, `form`'s choice (or the default header)
/// selected.
async fn choices(
    state: &AppState,
    company: CompanyId,
    form: &SendForm,
) -> Result<(Vec<TemplateRow>, Vec<SenderRow>), StoreError> {
    let store = state.store();
    let templates = store
        .list_templates(company, &first(LIST_MAX))
        .await?
        .items
        .into_iter()
        .map(|x| TemplateRow {
            selected: form.template == Some(x.id.0),
            id: x.id.0,
            name: x.name,
            body: x.body.as_str().to_owned(),
        })
        .collect();
    let senders = store
        .list_sender_headers(company, &first(LIST_MAX))
        .await?
        .items
        .into_iter()
        .map(|h| SenderRow {
            selected: if form.sender.is_empty() {
                h.is_default
            } else {
                form.sender == h.name.as_str()
            },
            name: h.name.as_str().to_owned(),
        })
        .collect();
    Ok((templates, senders))
}

fn len(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn picked_subscribers(
    state: &AppState,
    company: CompanyId,
    ids: &[i64],
) -> Result<Vec<Picked>, StoreError> {
    let mut out = Vec::new();
    for &id in ids {
        // Another company's id finds nothing and is left out.
        if let Some(s) = state
            .store()
            .get_subscriber(company, SubscriberId(id))
            .await?
        {
            out.push(Picked {
                id,
                detail: s.phone.national(),
                name: s.name,
                phones: 1,
            });
        }
    }
    Ok(out)
}

async fn picked_customers(
    state: &AppState,
    company: CompanyId,
    ids: &[i64],
) -> Result<Vec<Picked>, StoreError> {
    let mut out = Vec::new();
    for &id in ids {
        let found = state
            .store()
            .get_customer_account(company, CustomerAccountId(id))
            .await?;
        if let Some(c) = found {
            out.push(Picked {
                id,
                name: c.title,
                detail: c.code,
                phones: len(c.phones.len()),
            });
        }
    }
    Ok(out)
}

/// The engine's count of `text` under the company's policy, or `None` when the engine
/// refuses it (longer than any message; the send reports that with its code).
pub(super) async fn count_view(
    state: &AppState,
    company: CompanyId,
    text: &str,
    t: Texts,
) -> Option<CountView> {
    let req = CountRequest {
        text: text.to_owned(),
        policy: None,
        concat_ref: None,
    };
    let c = counted(state, company, req).await.ok()?;
    let n = |v: usize| format::integer(len(v), t.language());
    let h = hint(text, &c);
    Some(CountView {
        chars: n(c.count.total_chars),
        segments: n(c.count.segments),
        segments_n: c.count.segments,
        encoding: c.count.encoding.as_str(),
        encoding_label: t.get(encoding_key(c.count.encoding)),
        left: n(c.count.remaining),
        too_long: c.too_long,
        hint_char: h.as_ref().map(|h| h.char.clone()).unwrap_or_default(),
        hint_code: h.as_ref().map(|h| h.code.clone()).unwrap_or_default(),
        hint_with: h.and_then(|h| h.replacement).unwrap_or_default(),
    })
}

/// The catalogue key of an encoding's name.
pub(super) fn encoding_key(e: Encoding) -> &'static str {
    match e {
        Encoding::Gsm7 => "send.enc.gsm7",
        Encoding::Gsm7TurkishSingleShift => "send.enc.turkish_single",
        Encoding::Gsm7TurkishLockingShift => "send.enc.turkish_locking",
        Encoding::Ucs2 => "send.enc.ucs2",
    }
}

/// Common characters with a 7-bit stand-in: typographic quotes, dashes, the ellipsis,
/// the no-break space. Whether the stand-in really is 7-bit is the engine's call.
const STAND_INS: &[(char, &str)] = &[
    ('\u{2018}', "'"),
    ('\u{2019}', "'"),
    ('\u{201A}', "'"),
    ('\u{2032}', "'"),
    ('\u{201C}', "\""),
    ('\u{201D}', "\""),
    ('\u{201E}', "\""),
    ('\u{00AB}', "\""),
    ('\u{00BB}', "\""),
    ('\u{2013}', "-"),
    ('\u{2014}', "-"),
    ('\u{2212}', "-"),
    ('\u{2026}', "..."),
    ('\u{00A0}', " "),
];

/// When the count is UCS-2: the first character that alone forces UCS-2 under the same
/// policy, with its stand-in if the engine can send that in 7 bits.
pub(super) fn hint(text: &str, c: &TextCount) -> Option<Hint> {
    if c.count.encoding != Encoding::Ucs2 {
        return None;
    }
    let opts = Options {
        policy: c.count.policy,
        concat_ref: c.count.concat_ref,
    };
    let ucs2 = |s: &str| ulak_text::choose(s, &opts) == Encoding::Ucs2;
    let culprit = text.chars().find(|ch| ucs2(ch.encode_utf8(&mut [0; 4])))?;
    let replacement = STAND_INS
        .iter()
        .find(|(from, _)| *from == culprit)
        .map(|(_, to)| (*to).to_owned())
        .filter(|to| !ucs2(to));
    Some(Hint {
        char: culprit.to_string(),
        code: format!("U+{:04X}", u32::from(culprit)),
        replacement,
    })
}

/// `text` with every `culprit` replaced by its stand-in (the no-JS replace button).
pub(super) fn replace(text: &str, c: &TextCount) -> String {
    match hint(text, c) {
        Some(Hint {
            char: from,
            replacement: Some(to),
            ..
        }) => text.replace(from.as_str(), &to),
        _ => text.to_owned(),
    }
}

/// The count for the replace button.
pub(super) async fn raw_count(
    state: &AppState,
    company: CompanyId,
    text: &str,
) -> Option<TextCount> {
    let req = CountRequest {
        text: text.to_owned(),
        policy: None,
        concat_ref: None,
    };
    counted(state, company, req).await.ok()
}

/// The language of error texts for `l`.
pub(super) fn lang(l: Language) -> ulak_core::Lang {
    l.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> TextCount {
        let opts = Options {
            policy: ulak_text::Policy::TurkishShift,
            concat_ref: ulak_text::ConcatRef::Eight,
        };
        TextCount::new(text, &opts).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_hint_names_the_first_ucs2_character_and_its_stand_in() {
        let text = "Merhaba \u{201C}dünya\u{201D} 😀";
        let h = hint(text, &count(text)).unwrap_or_else(|| panic!("a hint"));
        assert_eq!((h.char.as_str(), h.code.as_str()), ("\u{201C}", "U+201C"));
        assert_eq!(h.replacement.as_deref(), Some("\""));
        let fixed = replace(text, &count(text));
        assert_eq!(
            fixed, "Merhaba \"dünya\u{201D} 😀",
            "one character at a time"
        );
        let h = hint("ok 😀", &count("ok 😀")).unwrap_or_else(|| panic!("a hint"));
        assert_eq!((h.char.as_str(), h.replacement), ("😀", None));
        assert_eq!(hint("Çağrı ışık", &count("Çağrı ışık")), None);
    }

    #[test]
    fn pasted_numbers_split_on_lines_commas_and_semicolons() {
        assert_eq!(
            pasted("0532 111 00 01\n05321110002, 05321110003;\n\n"),
            vec!["0532 111 00 01", "05321110002", "05321110003"]
        );
        assert_eq!(ids(Some("1, 2,x,3")), vec![1, 2, 3]);
    }
}
