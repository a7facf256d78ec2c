//! The send window's preview step ("Önizle"): the form becomes a draft campaign and the page
//! shows the API's preview of it (`previewed`, as `GET /api/v1/campaigns/{id}/preview`):
//! recipients, who is left out and why, three messages as they would be sent, segments and
//! cost against the balance. "Gönder" starts that very draft; "Düzenle" cancels it and shows
//! the form again with everything kept.
//!
//! What becomes of the draft: a preview refused (nobody to send to, the balance short, the
//! setup incomplete) cancels it at once, and so does "Düzenle"; a preview left open or
//! abandoned keeps it a draft, which never sends anything until started and is purged a day
//! later (`Store::purge_preview_drafts`, from the server's purge task).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::Code;
use ulak_core::model::CompanyId;
use ulak_engine::campaign::why;

use super::format;
use super::i18n::Texts;
use super::pages::render;
use super::send::{self, ErrorLine};
use super::send_view::{SendForm, lang};
use super::session::WebUser;
use crate::routes::campaigns::{PreviewOut, SkippedOut, create_draft, previewed};
use crate::startup::AppState;

/// Sample messages shown.
const SAMPLES: usize = 3;
/// Examples shown per reason.
const EXAMPLES: usize = 3;

/// One reason recipients are left out, with how many and a few (masked) examples.
struct ReasonRow {
    label: String,
    count: String,
    examples: String,
}

#[derive(Template)]
#[template(path = "web/send_preview.html")]
struct PreviewPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    form: &'a SendForm,
    /// The draft "Gönder" starts; `None` when the preview is refused (it was cancelled).
    draft: Option<i64>,
    recipients: String,
    duplicates: String,
    skipped: String,
    reasons: Vec<ReasonRow>,
    /// The reasons count only the first 1,000 left out.
    partial: bool,
    samples: Vec<String>,
    segments: String,
    cost: String,
    balance: String,
    after: String,
    short: bool,
    short_text: &'static str,
    validity: String,
    /// When it goes: the form's time on the company's clock, or "at once".
    when: String,
}

/// Creates the draft for `f`, previews it, and shows the preview (or the form with the
/// reasons, the draft cancelled).
pub(super) async fn preview(state: &AppState, user: &WebUser, mut f: SendForm) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let b = match send::campaign_in(state, company, &f, t).await {
        Ok(b) => b,
        Err(r) => return send::refused(state, user, &f, r).await,
    };
    let id = match create_draft(state, company, b, true).await {
        Ok((c, _)) => c.id,
        Err(e) => return send::refused(state, user, &f, send::messages(&e, t)).await,
    };
    let p = match previewed(state, company, id).await {
        Ok(p) => p,
        Err(e) => {
            drop_draft(state, company, id).await;
            return send::refused(state, user, &f, send::messages(&e, t)).await;
        }
    };
    if p.recipients == 0 {
        drop_draft(state, company, id).await;
        let e = vec![ErrorLine {
            field: t.get("send.recipients"),
            text: t.get("send.nobody"),
        }];
        return send::refused(state, user, &f, e).await;
    }
    let short = p.cost > p.balance;
    if short {
        // Nothing can go on from a preview the balance does not cover.
        drop_draft(state, company, id).await;
    }
    f.draft = (!short).then_some(id);
    let status = if short {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(user, &f, &p, status)
}

fn page(user: &WebUser, f: &SendForm, p: &PreviewOut, status: StatusCode) -> Response {
    let t = user.texts();
    let n = |v: i64| format::integer(v, t.language());
    let count = |v: usize| n(i64::try_from(v).unwrap_or(i64::MAX));
    let segments = i64::try_from(p.segments).unwrap_or(i64::MAX);
    let duplicates = i64::try_from(p.duplicates).unwrap_or(i64::MAX);
    let hours = f.validity_hours();
    render(
        status,
        &PreviewPage {
            t,
            active: "send",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: super::dashboard::other(t.language()).as_str(),
            form: f,
            draft: f.draft,
            recipients: count(p.recipients),
            duplicates: n(duplicates),
            skipped: count(p.skipped_total),
            reasons: reasons(&p.skipped, t),
            partial: p.skipped_total > p.skipped.len(),
            samples: p.samples.iter().take(SAMPLES).cloned().collect(),
            segments: n(segments),
            cost: n(p.cost),
            balance: n(p.balance),
            after: n(p.balance.saturating_sub(p.cost)),
            short: p.cost > p.balance,
            short_text: Code::CreditInsufficient.text(lang(t.language())),
            validity: t.with("send.validity_hours", "n", &n(hours)),
            when: match f.schedule.trim() {
                "" => t.get("preview.now").to_owned(),
                at => at.replace('T', " "),
            },
        },
    )
}

/// Cancels `company`'s campaign `id` if it still is a draft (a started one is never touched:
/// a "Düzenle" from a page the browser kept must not stop a send under way).
pub(super) async fn drop_draft(state: &AppState, company: CompanyId, id: i64) {
    // Only while it is a draft: a second press that started it meanwhile must not be undone.
    if let Err(e) = state.store().cancel_draft(company, id).await {
        tracing::warn!(error = %e, campaign = id, "cancelling a previewed draft failed");
    }
}

/// The catalogue key of a reason the engine gives, `None` for one without a key (its own
/// text is shown).
fn reason_key(s: &SkippedOut) -> Option<&'static str> {
    let r = s.reason.as_str();
    let table = [
        (why::OPTED_OUT, "send.why.opted_out"),
        (why::OPT_OUT_LIST, "send.why.opted_out"),
        (why::INVALID_TCKN, "send.why.invalid_tckn"),
        (why::INVALID_NUMBER, "send.why.invalid_number"),
        (why::NO_SUCH, "send.why.unknown"),
        (why::NO_VALUE, "send.why.missing_field"),
    ];
    if let Some((_, key)) = table.iter().find(|(start, _)| r.starts_with(start)) {
        return Some(key);
    }
    (s.kind == "tckn").then_some("send.why.tckn")
}

/// The left-out recipients grouped by reason, in order of first appearance.
fn reasons(skipped: &[SkippedOut], t: Texts) -> Vec<ReasonRow> {
    let mut groups: Vec<(String, i64, Vec<String>)> = Vec::new();
    for s in skipped {
        let label = match reason_key(s) {
            Some(key) => t.get(key).to_owned(),
            None => s.reason.clone(),
        };
        let at = match groups.iter().position(|g| g.0 == label) {
            Some(i) => i,
            None => {
                groups.push((label, 0, Vec::new()));
                groups.len() - 1
            }
        };
        if let Some(g) = groups.get_mut(at) {
            g.1 += 1;
            if g.2.len() < EXAMPLES {
                g.2.push(mask(s));
            }
        }
    }
    groups
        .into_iter()
        .map(|(label, count, examples)| ReasonRow {
            label,
            count: format::integer(count, t.language()),
            examples: examples.join(", "),
        })
        .collect()
}

/// An example of a left-out recipient with the middle of a number hidden (`+90532*****67`,
/// `123******50`); "subscriber 12" and the like are ids, shown as they are.
fn mask(s: &SkippedOut) -> String {
    let a = s.address.trim();
    if s.reason.starts_with(why::NO_SUCH) {
        return a.to_owned();
    }
    let chars: Vec<char> = a.chars().collect();
    let head = if s.kind == "msisdn" { 6 } else { 3 };
    if chars.len() <= head + 2 {
        return "*".repeat(chars.len());
    }
    let tail = chars.len() - 2;
    let mut out: String = chars.iter().take(head).collect();
    out.push_str(&"*".repeat(tail - head));
    out.extend(chars.iter().skip(tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: &str, address: &str, reason: &str) -> SkippedOut {
        SkippedOut {
            kind: kind.into(),
            address: address.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn examples_hide_the_middle_of_numbers_but_not_ids() {
        let m = |k, a, r| mask(&s(k, a, r));
        assert_eq!(
            m("msisdn", "+905321234567", why::OPT_OUT_LIST),
            "+90532*****67"
        );
        assert_eq!(
            m("tckn", "12345678950", "TC-ID subscription off"),
            "123******50"
        );
        assert_eq!(m("unknown", "0532", "invalid number: short"), "****");
        let unknown = format!("{} subscriber", why::NO_SUCH);
        assert_eq!(m("unknown", "subscriber 12", &unknown), "subscriber 12");
    }

    #[test]
    fn reasons_are_counted_and_named_in_turkish() {
        let t = Texts::new(ulak_core::model::Language::Tr);
        let invalid = format!("{}: too short", why::INVALID_NUMBER);
        let list = [
            s("msisdn", "+905321110001", why::OPT_OUT_LIST),
            s("unknown", "123", &invalid),
            s("msisdn", "+905321110002", why::OPTED_OUT),
            s("msisdn", "+905321110003", "something new"),
        ];
        let r = reasons(&list, t);
        let rows: Vec<(&str, &str)> = r
            .iter()
            .map(|r| (r.label.as_str(), r.count.as_str()))
            .collect();
        assert_eq!(
            rows,
            vec![
                (t.get("send.why.opted_out"), "2"),
                (t.get("send.why.invalid_number"), "1"),
                ("something new", "1"),
            ]
        );
        assert_eq!(r[0].examples, "+90532*****01, +90532*****02");
    }
}
