//! What a campaign's audience must be before the campaign is created: every id one of the
//! company's subscribers, groups or customer accounts (an unknown one is a mistake to show at
//! once, not a campaign that "finishes" having skipped it), and every pasted number or TC ID
//! number a short line without control characters (an unreadable one is skipped at start, with
//! the input as its address).

use ulak_core::Code;
use ulak_core::model::validation::{Lines, check_controls, check_length};
use ulak_core::model::{CompanyId, ValidationErrors, limits};
use ulak_store::{Owned, Store, StoreError};

use crate::campaign::Audience;
use crate::text_list::TextList;

/// Unknown ids named one by one, at most this many per list; the rest are counted.
const NAMED: usize = 100;

/// Every rule `audience` breaks, with fields such as `audience.group_ids[2]`; empty when it
/// is fine.
pub async fn check(
    store: &Store,
    company: CompanyId,
    audience: &Audience,
) -> Result<ValidationErrors, StoreError> {
    let mut e = ValidationErrors::default();
    if audience.is_empty() {
        e.push(
            "audience",
            Code::ValueEmpty,
            "name at least one recipient, group or account",
        );
    }
    lines(&mut e, "numbers", &audience.numbers, limits::PHONE);
    lines(&mut e, "tckns", &audience.tckns, limits::TCKN);
    let lists = [
        (
            "subscriber_ids",
            Owned::Subscriber,
            &audience.subscriber_ids,
            "subscriber",
        ),
        ("group_ids", Owned::Group, &audience.group_ids, "group"),
        (
            "customer_ids",
            Owned::CustomerAccount,
            &audience.customer_ids,
            "customer account",
        ),
    ];
    for (field, kind, ids, what) in lists {
        let missing = store.missing_ids(company, kind, ids).await?;
        if missing.is_empty() {
            continue;
        }
        let missing: std::collections::HashSet<i64> = missing.into_iter().collect();
        let mut named = 0;
        for (i, id) in ids.iter().enumerate() {
            if !missing.contains(id) {
                continue;
            }
            named += 1;
            if named <= NAMED {
                e.push(
                    format!("audience.{field}[{i}]"),
                    Code::ValueUnknown,
                    format!("the company has no {what} {id}"),
                );
            }
        }
        if named > NAMED {
            e.push(
                format!("audience.{field}"),
                Code::ValueUnknown,
                format!("{} more unknown {what} ids", named - NAMED),
            );
        }
    }
    Ok(e)
}

/// Checks each pasted line: at most `max` characters, no control character.
fn lines(e: &mut ValidationErrors, field: &str, list: &TextList, max: usize) {
    let mut bad = 0;
    for (i, s) in list.iter().enumerate() {
        if let Err(err) = check_length(s, max).and_then(|()| check_controls(s, Lines::One)) {
            bad += 1;
            if bad <= NAMED {
                e.push(format!("audience.{field}[{i}]"), err.code, err.message);
            }
        }
    }
    if bad > NAMED {
        e.push(
            format!("audience.{field}"),
            Code::ValueInvalid,
            format!("{} more unreadable entries", bad - NAMED),
        );
    }
}
