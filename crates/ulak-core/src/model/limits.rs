//! The longest value every text field of every input takes, in characters (Unicode scalar
//! values) as given, surrounding spaces included. One place, so the rules, the OpenAPI
//! document (`maxLength`) and README's table say the same; every text field also follows the
//! control-character rule of [`super::check_controls`].

/// A company's short name (ASCII).
pub const COMPANY_NAME: usize = 63;
/// A company's display name.
pub const COMPANY_DISPLAY_NAME: usize = 200;
/// A user's login name.
pub const LOGIN: usize = 64;
/// A user's password (at least 8).
pub const PASSWORD: usize = 256;
/// A user's display name.
pub const USER_DISPLAY_NAME: usize = 200;
/// An e-mail address.
pub const EMAIL: usize = 254;
/// An API key's name.
pub const API_KEY_NAME: usize = 100;
/// A phone number as typed, with its spaces and punctuation.
pub const PHONE: usize = 32;
/// A TC ID number as typed, with surrounding spaces.
pub const TCKN: usize = 20;
/// A subscriber's name.
pub const SUBSCRIBER_NAME: usize = 200;
/// A group's name.
pub const GROUP_NAME: usize = 100;
/// A group's description.
pub const GROUP_DESCRIPTION: usize = 500;
/// A customer account's code.
pub const CUSTOMER_CODE: usize = 64;
/// A customer account's title.
pub const CUSTOMER_TITLE: usize = 300;
/// A template's name.
pub const TEMPLATE_NAME: usize = 100;
/// A template body or a campaign text (a 255-segment UCS-2 message is 17,085 characters;
/// this leaves room for placeholders that expand shorter).
pub const TEMPLATE_BODY: usize = 20_000;
/// A template placeholder's value given in a request (`fields`).
pub const FIELD_VALUE: usize = 1_000;
/// A single message's text: the most characters ten GSM 7-bit segments carry (10 × 153).
/// Sending also refuses more than [`super::MAX_MESSAGE_SEGMENTS`] segments.
pub const MESSAGE_TEXT: usize = 1_530;
/// A text given to `POST /api/v1/count`: short enough that any text of this length fits the
/// 255 segments a concatenated SMS can have, so the count always has an answer.
pub const COUNT_TEXT: usize = 8_000;
/// A sender header as typed: 15 digits, or 11 alphanumeric characters (with spaces around).
pub const SENDER: usize = 15;
/// An alphanumeric sender header, trimmed.
pub const SENDER_ALPHANUMERIC: usize = 11;
/// A campaign's name.
pub const CAMPAIGN_NAME: usize = 200;
/// A credit entry's note.
pub const CREDIT_NOTE: usize = 500;
/// An opt-out's reason.
pub const OPT_OUT_REASON: usize = 500;
/// The OTP account's user name.
pub const OTP_USERNAME: usize = 64;
/// An operator password (OTP or provider account).
pub const SECRET: usize = 256;
/// One opt-out keyword.
pub const OPT_OUT_KEYWORD: usize = 20;
/// A provider account's name.
pub const PROVIDER_NAME: usize = 100;
/// A provider account's host name or address.
pub const PROVIDER_HOST: usize = 253;
/// An operator HTTP API's user name.
pub const PROVIDER_USERNAME: usize = 100;
/// An operator HTTP API's token.
pub const PROVIDER_TOKEN: usize = 4096;
/// SMPP 3.4's system_id (15 octets plus NUL).
pub const SYSTEM_ID: usize = 15;
/// SMPP 3.4's system_type (12 octets plus NUL).
pub const SYSTEM_TYPE: usize = 12;
/// The `search` parameter of list endpoints.
pub const SEARCH: usize = 200;
