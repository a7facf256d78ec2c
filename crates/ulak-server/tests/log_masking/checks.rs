//! What the captured log must and must not contain.

use crate::data::{
    CAMPAIGN_TEXT, OPERATOR_PASSWORD, OTP_PASSWORD, PASSWORD, Personal, SINGLE_TEXT,
};
use crate::helpers::ADMIN_KEY;

/// Every form of one phone a log could carry: E.164, E.164 without `+`, national with the
/// trunk 0, and the bare national significant number.
fn phone_forms(cc: &str, nsn: &str) -> Vec<String> {
    vec![
        format!("+{cc}{nsn}"),
        format!("{cc}{nsn}"),
        format!("0{nsn}"),
        nsn.to_owned(),
    ]
}

/// The log with the separators people write inside numbers (`0532 741 85 29`,
/// `(0532) 741-85-29`) removed between digits, so spaced forms are caught too.
fn squeeze_numbers(log: &str) -> String {
    let chars: Vec<char> = log.chars().collect();
    let mut out = String::with_capacity(log.len());
    for (i, &c) in chars.iter().enumerate() {
        let separator = matches!(c, ' ' | '-' | '(' | ')' | '.');
        if separator {
            let before = out.chars().last().is_some_and(|p| p.is_ascii_digit());
            let after = chars[i + 1..]
                .iter()
                .find(|n| !matches!(n, ' ' | '-' | '(' | ')' | '.'))
                .is_some_and(char::is_ascii_digit);
            if before && after {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The code paths did log: store spans, their masked fields, and sqlx statements.
pub fn code_paths_logged(log: &str) {
    for evidence in [
        "create_subscriber",
        "update_subscriber",
        "list_subscribers",
        "get_subscriber",
        "delete_subscriber",
        "begin_subscriber_import",
        "subscriber_import_check",
        "subscriber_import_write",
        "add_opt_out",
        "list_opt_outs",
        "delete_opt_out",
        "create_user",
        "update_user",
        "create_campaign",
        "begin_campaign_queueing",
        "queue_campaign_chunk",
        "enqueue_message",
        "claim_messages",
        "record_submits",
        "create_customer_account",
        "update_customer_account",
        "begin_customer_import",
        "customer_import_check",
        "customer_import_write",
        "create_provider_account",
        "update_sms_settings",
        // `create_subscriber`'s and `add_opt_out`'s phone fields, masked.
        "+90532*****29",
        "+90533*****15",
        "+99450*****62",
        "+90506*****25",
    ] {
        assert!(
            log.contains(evidence),
            "the log lacks {evidence:?}, so it proves nothing ({} bytes):\n{}",
            log.len(),
            tail(log)
        );
    }
}

/// No statement text at any level: sqlx's statement and slow-statement logs are off.
pub fn no_statement_text(log: &str) {
    for sql in [
        "sqlx::query",
        "INSERT INTO",
        "UPDATE messages",
        "db.statement",
    ] {
        assert!(
            !log.contains(sql),
            "SQL statement text in the log ({sql}):\n{}",
            tail(log)
        );
    }
}

/// No form of any number the test handed over, nor a secret or a text, in the log.
pub fn no_personal_data(log: &str, data: &Personal) {
    let Personal {
        tc,
        bad_tc,
        phones,
        bad_phones,
    } = data;
    let squeezed = squeeze_numbers(log);
    let mut leaks = Vec::new();
    let mut secrets: Vec<String> = phones
        .iter()
        .flat_map(|(cc, nsn)| phone_forms(cc, nsn))
        .collect();
    secrets.extend(tc.iter().cloned());
    secrets.extend(bad_tc.iter().cloned());
    for raw in *bad_phones {
        secrets.push(raw.to_owned());
        secrets.push(raw.chars().filter(char::is_ascii_digit).collect());
    }
    // Not phones or ID numbers, but no less secret: the user's password and the API key.
    secrets.push(PASSWORD.to_owned());
    secrets.push(OPERATOR_PASSWORD.to_owned());
    secrets.push(OTP_PASSWORD.to_owned());
    secrets.push(ADMIN_KEY.to_owned());
    // Message texts, whole and in part.
    for text in [CAMPAIGN_TEXT, SINGLE_TEXT] {
        secrets.push(text.to_owned());
        secrets.extend(text.split(", ").map(str::to_owned));
    }
    for secret in &secrets {
        for (which, text) in [("log", log), ("log without separators", &squeezed)] {
            if let Some(at) = text.find(secret.as_str()) {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                leaks.push(format!(
                    "{secret} in the {which}: {}",
                    &text[line_start..line_end]
                ));
                break;
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "personal data in the logs:\n{}",
        leaks.join("\n")
    );
}

/// The end of a long log, for failure messages.
fn tail(log: &str) -> &str {
    let mut start = log.len().saturating_sub(4000);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}
