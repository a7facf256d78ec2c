//! Stable error codes: every problem answer and every field error names one, so a program (or
//! the web UI) can react to the reason without reading prose. Each code has an English and a
//! Turkish text; docs/errors.md and the OpenAPI document list them all (a test keeps the
//! document equal to this table). Codes are `subject.reason`; once published, a code keeps its
//! meaning — new reasons get new codes.

use std::fmt;

use serde::{Serialize, Serializer};

/// A language an answer's texts can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Turkish.
    Tr,
}

impl Lang {
    /// The language an `Accept-Language` header asks for: Turkish when a `tr` tag is
    /// preferred to every English one (by quality, then by order), else English.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, parse_quality);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "tr" => Lang::Tr,
                "en" | "*" => Lang::En,
                _ => continue,
            };
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The tag of this language (`en`, `tr`), for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Tr => "tr",
        }
    }
}

/// A quality value (`0.8`) in thousandths; anything unreadable counts as 0.
fn parse_quality(s: &str) -> u16 {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let whole = match int {
        "1" => return 1000,
        "0" => 0u16,
        _ => return 0,
    };
    let mut v = whole;
    for (i, b) in frac.bytes().take(3).enumerate() {
        if !b.is_ascii_digit() {
            return 0;
        }
        v += u16::from(b - b'0') * [100, 10, 1][i];
    }
    v
}

macro_rules! codes {
    ($($v:ident => $s:literal, $en:literal, $tr:literal;)*) => {
        /// A stable error code (see the module documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(
                #[doc = $en]
                $v,
            )*
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$v),*];

            /// The code as answers spell it, e.g. `phone.landline`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$v => $s),* }
            }

            /// What the code means, in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Code::$v, Lang::En) => $en, (Code::$v, Lang::Tr) => $tr,)*
                }
            }

            /// The code spelled `s`, if there is one.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($s => Some(Code::$v),)* _ => None }
            }
        }
    };
}

codes! {
    // Whole requests.
    RequestInvalid => "request.invalid", "Some fields are invalid; see `errors`.", "Bazı alanlar geçersiz; ayrıntılar `errors` içinde.";
    RequestMalformed => "request.malformed", "The request could not be read.", "İstek okunamadı.";
    RequestTooLarge => "request.too_large", "The request or file is larger than allowed.", "İstek ya da dosya izin verilenden büyük.";
    RequestUriTooLong => "request.uri_too_long", "The address is too long.", "Adres çok uzun.";
    RequestTimeout => "request.timeout", "The request took too long.", "İstek çok uzun sürdü.";
    RateLimited => "rate.limited", "Too many requests; try again later.", "Çok fazla istek; biraz sonra yeniden deneyin.";
    AuthRequired => "auth.required", "A valid API key or session is required.", "Geçerli bir API anahtarı ya da oturum gerekiyor.";
    AuthForbidden => "auth.forbidden", "Your role does not allow this.", "Rolünüz bu işleme izin vermiyor.";
    NotFound => "resource.not_found", "Nothing of that id or path here.", "Bu kimlikte ya da adreste bir kayıt yok.";
    MethodNotAllowed => "method.not_allowed", "This path does not take this method.", "Bu adres bu yöntemi kabul etmiyor.";
    StateConflict => "state.conflict", "Not possible in the object's current state.", "Kaydın şu anki durumunda bu yapılamaz.";
    ServiceUnavailable => "service.unavailable", "The service is not available right now.", "Hizmet şu anda kullanılamıyor.";
    Internal => "server.internal", "Something went wrong on the server.", "Sunucuda bir hata oluştu.";
    // Any field.
    ValueInvalid => "value.invalid", "The value is not valid.", "Değer geçerli değil.";
    ValueEmpty => "value.empty", "A value is required.", "Bir değer girilmelidir.";
    ValueTooLong => "value.too_long", "The value is too long.", "Değer çok uzun.";
    ValueTooShort => "value.too_short", "The value is too short.", "Değer çok kısa.";
    ValueControlCharacter => "value.control_character", "Control characters are not allowed.", "Kontrol karakterlerine izin verilmez.";
    ValueOutOfRange => "value.out_of_range", "The value is outside the allowed range.", "Değer izin verilen aralığın dışında.";
    ValueTooMany => "value.too_many", "Too many items.", "Çok fazla öğe.";
    ValueTaken => "value.taken", "This value already exists.", "Bu değer zaten kayıtlı.";
    ValueUnknown => "value.unknown", "No such object in this company.", "Bu şirkette böyle bir kayıt yok.";
    ValueTooLarge => "value.too_large", "The values together are larger than allowed.", "Değerlerin toplamı izin verilenden büyük.";
    ValueDuplicate => "value.duplicate", "The value is given more than once.", "Değer birden fazla kez verilmiş.";
    CursorInvalid => "cursor.invalid", "The page cursor is not valid.", "Sayfa imleci geçerli değil.";
    // Phone numbers.
    PhoneEmpty => "phone.empty", "A phone number is required.", "Telefon numarası girilmelidir.";
    PhoneInvalidCharacter => "phone.invalid_character", "The phone number has a character that is not allowed.", "Telefon numarasında izin verilmeyen bir karakter var.";
    PhoneTooShort => "phone.too_short", "The phone number is too short.", "Telefon numarası çok kısa.";
    PhoneTooLong => "phone.too_long", "The phone number is too long.", "Telefon numarası çok uzun.";
    PhoneLandline => "phone.landline", "A landline cannot receive SMS.", "Sabit hatlar SMS alamaz.";
    PhoneNotMobile => "phone.not_mobile", "Not a mobile number.", "Cep telefonu numarası değil.";
    PhoneCountryNotAllowed => "phone.country_not_allowed", "Ulak sends to TR, KKTC and AZ numbers only.", "Ulak yalnızca TR, KKTC ve AZ numaralarına gönderir.";
    PhoneUnknownCountryCode => "phone.unknown_country_code", "Unknown country code.", "Bilinmeyen ülke kodu.";
    PhoneInvalid => "phone.invalid", "Not an assigned mobile number.", "Geçerli bir cep telefonu numarası değil.";
    PhoneOptedOut => "phone.opted_out", "The number is on the opt-out list.", "Numara ileti almak istemeyenler listesinde.";
    // TC ID numbers.
    TcknEmpty => "tckn.empty", "A TC ID number is required.", "TC kimlik numarası girilmelidir.";
    TcknNonDigit => "tckn.non_digit", "A TC ID number has digits only.", "TC kimlik numarası yalnızca rakamlardan oluşur.";
    TcknWrongLength => "tckn.wrong_length", "A TC ID number has 11 digits.", "TC kimlik numarası 11 hanelidir.";
    TcknLeadingZero => "tckn.leading_zero", "A TC ID number does not start with 0.", "TC kimlik numarası 0 ile başlamaz.";
    TcknChecksum => "tckn.checksum", "The TC ID number's check digits are wrong.", "TC kimlik numarasının kontrol haneleri hatalı.";
    TcknSubscriptionOff => "tckn.subscription_off", "The company's TC ID subscription is not active.", "Şirketin TC kimlik numarasına gönderim aboneliği etkin değil.";
    TcknNoSender => "tckn.no_sender", "No TC ID sender header is set in the SMS settings.", "SMS ayarlarında TC kimlik gönderici başlığı tanımlı değil.";
    // Texts and templates.
    TextEmpty => "text.empty", "The text is empty.", "Metin boş.";
    TextMissing => "text.missing", "Give a text or a template.", "Bir metin ya da şablon verin.";
    TextAmbiguous => "text.ambiguous", "Give a text or a template, not both.", "Metin ya da şablondan yalnızca birini verin.";
    TextTooLong => "text.too_long", "The text is longer than a message may be.", "Metin bir iletinin alabileceğinden uzun.";
    TextUnencodable => "text.unencodable", "The text has characters the account's encoding cannot send.", "Metinde hesabın kodlamasıyla gönderilemeyen karakterler var.";
    TemplateUnknown => "template.unknown", "No such template.", "Böyle bir şablon yok.";
    TemplateFieldMissing => "template.field_missing", "A value for a placeholder is missing.", "Bir yer tutucu için değer eksik.";
    TemplatePlaceholderInvalid => "template.placeholder_invalid", "A placeholder is not written correctly.", "Bir yer tutucu hatalı yazılmış.";
    // Sender headers.
    SenderInvalid => "sender.invalid", "A sender header is 3 to 15 digits, or up to 11 of A-Z, a-z, 0-9, space and . - _ & with a letter.", "Gönderici başlığı 3-15 rakam ya da en az bir harf içeren en fazla 11 A-Z, a-z, 0-9, boşluk ve . - _ & karakteridir.";
    SenderNumericLength => "sender.numeric_length", "A numeric sender header has 3 to 15 digits.", "Rakamlardan oluşan gönderici başlığı 3-15 hanelidir.";
    SenderTurkishLetter => "sender.turkish_letter", "Turkish letters are not allowed in a sender header.", "Gönderici başlığında Türkçe harf kullanılamaz.";
    SenderInvalidCharacter => "sender.invalid_character", "A sender header takes only A-Z, a-z, 0-9, space and . - _ &.", "Gönderici başlığında yalnızca A-Z, a-z, 0-9, boşluk ve . - _ & kullanılabilir.";
    SenderTooLong => "sender.too_long", "An alphanumeric sender header has at most 11 characters.", "Harf içeren gönderici başlığı en fazla 11 karakterdir.";
    SenderNoLetter => "sender.no_letter", "An alphanumeric sender header has at least one letter.", "Harf içeren gönderici başlığında en az bir harf bulunmalı.";
    SenderUnknown => "sender.unknown", "Not one of the company's sender headers.", "Şirketin gönderici başlıklarından biri değil.";
    SenderNoDefault => "sender.no_default", "No default sender header is set.", "Varsayılan gönderici başlığı tanımlı değil.";
    SenderTcknOnly => "sender.tckn_only", "TC ID sends use the TC ID sender header.", "TC kimlik numarasına gönderimler TC kimlik başlığıyla yapılır.";
    // Sending.
    ScheduleOutOfRange => "schedule.out_of_range", "A send time is between now and one year ahead.", "Gönderim zamanı şimdi ile bir yıl sonrası arasında olmalı.";
    ValidityOutOfRange => "validity.out_of_range", "Validity is 60 seconds to 72 hours.", "Geçerlilik süresi 60 saniye ile 72 saat arasında olmalı.";
    ProviderNone => "provider.none", "The company has no enabled provider account to send through.", "Şirketin gönderim yapabilecek etkin bir operatör hesabı yok.";
    ProviderKindUnsupported => "provider.kind_unsupported", "This kind of provider account cannot send yet.", "Bu tür operatör hesabı henüz gönderim yapamıyor.";
    ProviderSettingOtherKind => "provider.setting_other_kind", "Not a setting of this kind of provider account.", "Bu tür operatör hesabının bir ayarı değil.";
    ProviderTestBusy => "provider.test_busy", "A connection test of this company is already running; try again when it has finished.", "Bu şirketin bir bağlantı sınaması zaten sürüyor; bitince yeniden deneyin.";
    CreditInsufficient => "credit.insufficient", "Not enough credit.", "Yeterli kredi yok.";
    IdempotencyKeyInvalid => "idempotency.key_invalid", "An Idempotency-Key is 1 to 255 visible ASCII characters.", "Idempotency-Key 1-255 görünür ASCII karakterdir.";
    IdempotencyBodyMismatch => "idempotency.body_mismatch", "The Idempotency-Key was used for a different request.", "Idempotency-Key başka bir istek için kullanılmış.";
    // Addresses and files.
    UrlInvalid => "url.invalid", "Not a valid http(s) address.", "Geçerli bir http(s) adresi değil.";
    UrlScheme => "url.scheme", "Only http and https addresses are allowed.", "Yalnızca http ve https adreslerine izin verilir.";
    UrlCredentials => "url.credentials", "An address may not carry a user name or password.", "Adres kullanıcı adı ya da parola içeremez.";
    UrlTargetNotAllowed => "url.target_not_allowed", "The address points at a network Ulak may not connect to.", "Adres, Ulak'ın bağlanamayacağı bir ağı gösteriyor.";
    WebhookEventUnknown => "webhook.event_unknown", "Unknown event type.", "Bilinmeyen olay türü.";
    AttributeNameInvalid => "attribute.name_invalid", "An attribute name is 1 to 64 letters, digits, _ or .", "Özellik adı 1-64 harf, rakam, _ ya da . karakteridir.";
    CreditInvalidSign => "credit.invalid_sign", "The amount's sign does not fit the entry's kind.", "Tutarın işareti kayıt türüne uymuyor.";
    EmailInvalid => "email.invalid", "Not an e-mail address.", "Geçerli bir e-posta adresi değil.";
    UserLastAdmin => "user.last_admin", "A company keeps at least one active administrator: the last one cannot be demoted, deactivated or deleted.", "Şirketin en az bir etkin yöneticisi kalmalıdır: son yönetici başka role alınamaz, devre dışı bırakılamaz ya da silinemez.";
    UserLastSystemAdmin => "user.last_system_admin", "The server keeps at least one active system administrator: the last one cannot be demoted, deactivated, deleted or lose system administration.", "Sunucunun en az bir etkin sistem yöneticisi kalmalıdır: son sistem yöneticisi başka role alınamaz, devre dışı bırakılamaz, silinemez ya da sistem yöneticiliği kaldırılamaz.";
    PasswordTooShort => "password.too_short", "A password has at least 8 characters.", "Parola en az 8 karakter olmalı.";
    ImportUnreadable => "import.unreadable", "The file could not be read.", "Dosya okunamadı.";
    ImportColumn => "import.column", "A column is missing, unknown or given twice.", "Bir sütun eksik, bilinmiyor ya da iki kez verilmiş.";
}

impl Code {
    /// The code's subject, the part before the dot (`phone` of `phone.landline`).
    pub fn subject(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl From<&crate::PhoneError> for Code {
    fn from(e: &crate::PhoneError) -> Code {
        use crate::PhoneError as P;
        match e {
            P::Empty => Code::PhoneEmpty,
            P::InvalidCharacter { .. } => Code::PhoneInvalidCharacter,
            P::TooShort { .. } => Code::PhoneTooShort,
            P::TooLong { .. } => Code::PhoneTooLong,
            P::Landline { .. } => Code::PhoneLandline,
            P::NotMobile { .. } => Code::PhoneNotMobile,
            P::UnsupportedCountry { .. } => Code::PhoneCountryNotAllowed,
            P::UnknownCountryCode => Code::PhoneUnknownCountryCode,
            P::InvalidNumber { .. } => Code::PhoneInvalid,
        }
    }
}

impl From<&crate::TcknError> for Code {
    fn from(e: &crate::TcknError) -> Code {
        use crate::TcknError as T;
        match e {
            T::Empty => Code::TcknEmpty,
            T::NonDigit { .. } => Code::TcknNonDigit,
            T::WrongLength { .. } => Code::TcknWrongLength,
            T::LeadingZero => Code::TcknLeadingZero,
            T::Check10 { .. } | T::Check11 { .. } => Code::TcknChecksum,
        }
    }
}

/// The error codes as a Markdown document (docs/errors.md is this text; a test keeps them
/// equal).
pub fn markdown() -> String {
    let mut s = String::from(
        "# Error codes\n\n\
         Every error answer of the API is an `application/problem+json` document with a `code`;\n\
         a validation error (422) also lists each invalid field with its own `code` in\n\
         `errors`. Codes are stable: a program may act on them. Texts come in English, or in\n\
         Turkish when the request's `Accept-Language` prefers `tr` (the `message` of each field\n\
         then is the Turkish text below, the `detail` too).\n\n\
         This file is generated from `crates/ulak-core/src/code.rs` by\n\
         `ULAK_WRITE_DOCS=1 cargo test -p ulak-core errors_md`; the same test fails when they\n\
         differ.\n\n\
         | code | English | Türkçe |\n|---|---|---|\n",
    );
    for c in Code::ALL {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.text(Lang::En),
            c.text(Lang::Tr)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_are_unique_dotted_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            let (subject, reason) = s.split_once('.').expect("subject.reason");
            for part in [subject, reason] {
                assert!(!part.is_empty());
                assert!(part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            }
            assert_eq!(Code::parse(s), Some(*c));
            assert!(!c.text(Lang::En).is_empty() && !c.text(Lang::Tr).is_empty());
            assert_ne!(
                c.text(Lang::En),
                c.text(Lang::Tr),
                "{s} has no Turkish text"
            );
        }
    }

    #[test]
    fn errors_md_lists_every_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let want = markdown();
        if std::env::var_os("ULAK_WRITE_DOCS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/errors.md is not the table of code.rs: ULAK_WRITE_DOCS=1 cargo test -p ulak-core errors_md"
        );
    }

    #[test]
    fn accept_language_picks_turkish_only_when_preferred() {
        let table = [
            ("tr", Lang::Tr),
            ("tr-TR,tr;q=0.9,en;q=0.8", Lang::Tr),
            ("TR-tr", Lang::Tr),
            ("en-US,en;q=0.9,tr;q=0.8", Lang::En),
            ("en;q=0.5, tr;q=0.7", Lang::Tr),
            ("de, tr;q=0.1", Lang::Tr),
            ("de", Lang::En),
            ("", Lang::En),
            ("tr;q=0", Lang::En),
            ("tr;q=garbage", Lang::En),
            ("*, tr;q=0.9", Lang::En),
            ("tr;q=0.900, en;q=0.9", Lang::Tr),
            ("en;q=0.9, tr;q=0.900", Lang::En),
        ];
        for (header, want) in table {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn every_phone_and_tckn_error_has_its_code() {
        let p = crate::Msisdn::parse("0212 123 45 67", crate::CountryType::Tr).unwrap_err();
        assert_eq!(Code::from(&p), Code::PhoneLandline);
        let bad = crate::Tckn::parse("12345678901").unwrap_err();
        assert_eq!(Code::from(&bad), Code::TcknChecksum);
    }
}
