//! Schemas the derive cannot state, shared by the request types: the two domain formats
//! (`phone`, `tckn`: a JSON Schema cannot say which numbers are mobile ones or check digits,
//! so they are named formats with their rules in the description, and scripts/schemathesis
//! registers generators for them), attribute maps, and optional fields where an empty string
//! clears the value.
//!
//! Text fields state the one control-character rule of ulak-core (`check_controls`) as a
//! pattern; the field attributes repeat these literals (a derive attribute takes no
//! constant), and `tests/api/openapi.rs` checks every request text field has one of them.

use utoipa::openapi::schema::{
    AnyOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};
use utoipa::{PartialSchema, ToSchema};

use ulak_core::model::limits;

/// One line, not blank: no control character, at least one character that is not a space.
pub const LINE: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";
/// One line, possibly empty or blank.
pub const LINE_ANY: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
/// Lines (tab, line feed and carriage return allowed), not blank.
pub const TEXT: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";
/// Lines, possibly empty or blank.
pub const TEXT_ANY: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";
/// A template placeholder or attribute name: 1 to 64 letters, digits, `_` or `.`.
pub const NAME: &str = r"^[\p{L}\p{N}_.]{1,64}$";

fn string(format: &str, max: usize, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom(format.to_owned())))
        .max_length(Some(max))
        .description(Some(description))
}

/// The empty string, which clears an optional value.
fn empty() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(0))
        .description(Some("empty: no value"))
        .into()
}

const PHONE_RULES: &str = "A mobile number of Turkey, Northern Cyprus or Azerbaijan in any \
    common form: E.164 (`+905321234567`, `+994501234567`), with `00` or the country code \
    without `+` (`905321234567`), or national (`0532 123 45 67`, read by the company's country \
    type). Digits with spaces, `-`, `.`, `/` and parentheses; no control characters. \
    Landlines, service and premium numbers are refused.";

const TCKN_RULES: &str = "A TC ID number (TC kimlik no): 11 digits, the first not 0, the 10th \
    ((d1+d3+d5+d7+d9)×7 − (d2+d4+d6+d8)) mod 10, the 11th (d1+…+d10) mod 10; surrounding \
    spaces are ignored.";

/// A mobile number: `format: phone`.
pub struct Phone;

impl PartialSchema for Phone {
    fn schema() -> RefOr<Schema> {
        string("phone", limits::PHONE, PHONE_RULES).into()
    }
}

impl ToSchema for Phone {}

/// A mobile number, or the empty string for none.
pub struct PhoneOrEmpty;

impl PartialSchema for PhoneOrEmpty {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Phone::schema())
            .item(empty())
            .description(Some("A mobile number (`format: phone`), or empty for none"))
            .into()
    }
}

impl ToSchema for PhoneOrEmpty {}

/// A send's recipient: a mobile number or a TC ID number.
pub struct Recipient;

impl PartialSchema for Recipient {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Phone::schema())
            .item(Tckn::schema())
            .description(Some(
                "A mobile number (`format: phone`), or an 11-digit TC ID number (`format: \
                 tckn`), sent with the TC-ID sender header",
            ))
            .into()
    }
}

impl ToSchema for Recipient {}

/// A TC ID number: `format: tckn`.
pub struct Tckn;

impl PartialSchema for Tckn {
    fn schema() -> RefOr<Schema> {
        string("tckn", limits::TCKN, TCKN_RULES).into()
    }
}

impl ToSchema for Tckn {}

/// A TC ID number, or the empty string for none (it clears a stored one).
pub struct TcknOrEmpty;

impl PartialSchema for TcknOrEmpty {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Tckn::schema())
            .item(empty())
            .description(Some("A TC ID number (`format: tckn`), or empty for none"))
            .into()
    }
}

impl ToSchema for TcknOrEmpty {}

/// Free attributes (or a template's field values): names as placeholders are named, values
/// of at most 1,000 characters that may span lines.
pub struct AttributeMap;

impl PartialSchema for AttributeMap {
    fn schema() -> RefOr<Schema> {
        let value = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(1000))
            .pattern(Some(TEXT_ANY));
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(NAME));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(name))
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(value.into()))))
            .description(Some(
                "Names: 1 to 64 letters, digits, `_` or `.` (usable as `{{name}}` in \
                 templates); values: at most 1,000 characters, no control characters but tab \
                 and line breaks",
            ))
            .into()
    }
}

impl ToSchema for AttributeMap {}

/// The pattern of a sender header, as `SenderName::parse` reads one: surrounding spaces, then
/// 3 to 15 digits, or 1 to 11 of `A-Z a-z 0-9 space . - _ &` with at least one letter. Built
/// here because a regular expression cannot count "11 with a letter somewhere" without
/// naming each place the first letter can be.
pub fn sender_pattern() -> String {
    let set = "A-Za-z0-9 .\\-_&";
    let lead = "0-9 .\\-_&";
    let alphanumeric: Vec<String> = (0..limits::SENDER_ALPHANUMERIC)
        .map(|k| {
            let rest = limits::SENDER_ALPHANUMERIC - 1 - k;
            format!("[{lead}]{{{k}}}[A-Za-z][{set}]{{0,{rest}}}")
        })
        .collect();
    let space = r"[^\S\x00-\x1F\x7F-\x9F]*";
    format!(
        "^{space}([0-9]{{3,{}}}|{}){space}$",
        limits::SENDER,
        alphanumeric.join("|")
    )
}

/// A sender header (originator).
pub struct Sender;

impl PartialSchema for Sender {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(limits::SENDER))
            .pattern(Some(sender_pattern()))
            .description(Some(
                "A sender header: 1 to 11 of A-Z, a-z, 0-9, space and `.-_&` with at least one \
                 letter (no Turkish letters), or 3 to 15 digits",
            ))
            .into()
    }
}

impl ToSchema for Sender {}

/// Characters an e-mail address or URL may hold: no space, no control character.
const VISIBLE: &str = r"\s\x00-\x1F\x7F-\x9F";

/// An e-mail address, or the empty string for none. Checked for shape only, as
/// `Email::parse` does: one `@`, a dot inside the domain, no spaces.
pub struct EmailOrEmpty;

impl PartialSchema for EmailOrEmpty {
    fn schema() -> RefOr<Schema> {
        let part = format!("[^@{VISIBLE}]");
        let edge = format!("[^@.{VISIBLE}]");
        let email = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(limits::EMAIL))
            .pattern(Some(format!("^{part}+@{edge}{part}*\\.{part}*{edge}$")));
        AnyOfBuilder::new()
            .item(email)
            .item(empty())
            .description(Some(
                "An e-mail address (`local@domain.tld`, no spaces), or empty for none",
            ))
            .into()
    }
}

impl ToSchema for EmailOrEmpty {}

/// A TCP port as `parse_webhook_url` reads one: 1 to 65535 in digits (leading zeros are read
/// as the number they spell).
const PORT: &str =
    r"0*(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})";

/// A webhook endpoint URL: `http://` or `https://`, a host, an optional port, no user name or
/// password, no spaces or control characters.
pub struct WebhookUrl;

impl PartialSchema for WebhookUrl {
    fn schema() -> RefOr<Schema> {
        let host = format!(
            r"(\[{}\]|[^\[/?#@:{VISIBLE}][^/?#@:{VISIBLE}]*)",
            ipv6_pattern()
        );
        let pattern = format!(r"^[hH][tT][tT][pP][sS]?://{host}(:{PORT})?([/?#][^{VISIBLE}]*)?$");
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(ulak_core::model::MAX_WEBHOOK_URL))
            .pattern(Some(pattern))
            .description(Some(
                "Where events are POSTed: `http://` or `https://` and a host, an optional port \
                 (1 to 65535), no user name or password, no spaces",
            ))
            .into()
    }
}

impl ToSchema for WebhookUrl {}

/// An IPv6 address as the URL parser reads one between brackets: eight groups of 1 to 4 hex
/// digits, one `::` for a run of zero groups, and the last two groups optionally written as
/// an IPv4 address (decimal, no leading zeros). No zone id.
fn ipv6_pattern() -> String {
    let h = "[0-9A-Fa-f]{1,4}";
    let octet = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    let v4 = format!(r"({octet}\.){{3}}{octet}");
    let mut forms = vec![
        format!("({h}:){{7}}{h}"),
        format!("({h}:){{1,7}}:"),
        format!("({h}:){{1,6}}:{h}"),
        format!(":((:{h}){{1,7}}|:)"),
        format!("({h}:){{6}}{v4}"),
        format!("::({h}:){{0,5}}{v4}"),
    ];
    for before in 1..=5 {
        let after = 7 - before;
        forms.push(format!("({h}:){{1,{before}}}(:{h}){{1,{after}}}"));
        forms.push(format!("({h}:){{{before}}}:({h}:){{0,{}}}{v4}", 5 - before));
    }
    format!("({})", forms.join("|"))
}

/// An opt-out keyword: one word of letters and digits, at most 20 characters.
pub struct OptOutKeyword;

impl PartialSchema for OptOutKeyword {
    fn schema() -> RefOr<Schema> {
        let space = r"[^\S\x00-\x1F\x7F-\x9F]*";
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(limits::OPT_OUT_KEYWORD))
            .pattern(Some(format!(r"^{space}[\p{{L}}\p{{N}}]+{space}$")))
            .description(Some(
                "One word of letters and digits (kept in upper case), at most 20 characters",
            ))
            .into()
    }
}

impl ToSchema for OptOutKeyword {}

/// A pasted line of a campaign audience: read as a number (or a TC ID number) when the
/// campaign starts, an unreadable one skipped with the reason; one line, no control
/// characters.
fn pasted(max: usize, what: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max))
        .pattern(Some(LINE_ANY))
        .description(Some(what))
        .into()
}

/// A pasted phone number of an audience.
pub struct PastedNumber;

impl PartialSchema for PastedNumber {
    fn schema() -> RefOr<Schema> {
        pasted(
            limits::PHONE,
            "A mobile number in any common form; one that is not is skipped at start",
        )
    }
}

impl ToSchema for PastedNumber {}

/// A pasted TC ID number of an audience.
pub struct PastedTckn;

impl PartialSchema for PastedTckn {
    fn schema() -> RefOr<Schema> {
        pasted(
            limits::TCKN,
            "A TC ID number; one that is not valid is skipped at start",
        )
    }
}

impl ToSchema for PastedTckn {}

/// What the request types' derives cannot state about several fields at once, added to their
/// components after the paths are in: exactly one of `text` and `template_id` (a send, a
/// campaign); an SMPP account needs `host`, `port` and `system_id`; a purchase is positive
/// and an adjustment not zero.
pub struct CrossFieldRules;

impl utoipa::Modify for CrossFieldRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let text_or_template = || {
            OneOfBuilder::new()
                .item(one_required("text", Type::String))
                .item(one_required("template_id", Type::Integer))
                .description(Some("Exactly one of `text` and `template_id`"))
        };
        let smpp_needs = OneOfBuilder::new()
            .item(ObjectBuilder::new().property("kind", constant("simulator")))
            .item(
                ["host", "system_id"]
                    .into_iter()
                    .fold(ObjectBuilder::new(), |o, f| {
                        o.property(f, ObjectBuilder::new().schema_type(Type::String))
                            .required(f)
                    })
                    .property("kind", constant("smpp"))
                    .property("port", ObjectBuilder::new().schema_type(Type::Integer))
                    .required("port"),
            )
            .description(Some(
                "An `smpp` account needs `host`, `port` and `system_id`",
            ));
        let nonzero = AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .maximum(Some(-1)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            );
        let signed = OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("kind", constant("purchase"))
                    .property("amount", ObjectBuilder::new().minimum(Some(1))),
            )
            .item(
                ObjectBuilder::new()
                    .property("kind", constant("adjustment"))
                    .property("amount", nonzero),
            )
            .description(Some("A purchase is positive, an adjustment not zero"));
        let rules: [(&str, Schema); 4] = [
            ("MessageIn", text_or_template().into()),
            ("CampaignIn", text_or_template().into()),
            ("ProviderIn", smpp_needs.into()),
            ("CreditEntryIn", signed.into()),
        ];
        for (name, rule) in rules {
            if let Some(schema) = components.schemas.remove(name) {
                let both = utoipa::openapi::schema::AllOfBuilder::new()
                    .item(schema)
                    .item(rule);
                components.schemas.insert(name.to_owned(), both.into());
            }
        }
    }
}

/// An object whose `field` is present and of `kind` (not `null`).
fn one_required(field: &str, kind: Type) -> ObjectBuilder {
    ObjectBuilder::new()
        .property(field, ObjectBuilder::new().schema_type(kind))
        .required(field)
}

/// A string that is exactly `value`.
fn constant(value: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([value]))
}

/// A stable error code: one of docs/errors.md.
pub struct ErrorCode;

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ulak_core::Code::ALL.iter().map(|c| c.as_str())))
            .description(Some(
                "A stable error code (`subject.reason`); docs/errors.md lists each with its \
                 English and Turkish text",
            ))
            .into()
    }
}

impl ToSchema for ErrorCode {}
