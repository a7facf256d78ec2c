//! SMS templates: a body with `{{ name }}` placeholders, checked when saved and rendered per
//! recipient. Deliberately tiny (no loops, filters or escapes): an SMS needs only field
//! substitution, and a small grammar gives users exact error positions.

use crate::Code;
use std::collections::BTreeMap;

use serde::Serialize;

use super::limits;
use super::validation::{ErrorCode, Lines, ValidationErrors, refused, text};
use super::{CompanyId, TemplateId};

/// Longest body accepted.
const MAX_BODY: usize = super::limits::TEMPLATE_BODY;

/// Whether `c` may appear in a placeholder or attribute name: any letter (Turkish included),
/// digit, `_` or `.`.
pub fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// A syntax error in a template body; positions are 1-based character positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateError {
    /// `{{` without a matching `}}`.
    #[error("'{{{{' at position {position} is never closed with '}}}}'")]
    Unclosed {
        /// Position of the first `{`.
        position: usize,
    },
    /// `}}` without an opening `{{`.
    #[error("'}}}}' at position {position} has no opening '{{{{'")]
    UnexpectedClose {
        /// Position of the first `}`.
        position: usize,
    },
    /// `{{ }}` with no name.
    #[error("empty placeholder at position {position}")]
    EmptyName {
        /// Position of the first `{`.
        position: usize,
    },
    /// A character not allowed in a name.
    #[error("character {ch:?} at position {position} is not allowed in a placeholder name")]
    InvalidName {
        /// The character.
        ch: char,
        /// Its position.
        position: usize,
    },
    /// The body is empty or too long.
    #[error("body must have 1..=20000 characters")]
    Length,
    /// A control character other than tab, line feed or carriage return (see
    /// [`super::check_controls`]).
    #[error("control character at position {position}")]
    ControlCharacter {
        /// Its position.
        position: usize,
    },
}

impl ErrorCode for TemplateError {
    fn code(&self) -> Code {
        match self {
            Self::Unclosed { .. }
            | Self::UnexpectedClose { .. }
            | Self::EmptyName { .. }
            | Self::InvalidName { .. } => Code::TemplatePlaceholderInvalid,
            Self::Length => Code::ValueTooLong,
            Self::ControlCharacter { .. } => Code::ValueControlCharacter,
        }
    }
}

/// One piece of a parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Literal text.
    Text(String),
    /// A placeholder name.
    Field(String),
}

/// A template body whose syntax is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TemplateBody {
    source: String,
    #[serde(skip)]
    parts: Vec<Part>,
}

/// Fields a recipient lacked when rendering, in order of first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("missing fields: {}", .0.join(", "))]
pub struct MissingFields(pub Vec<String>);

impl TemplateBody {
    /// Parses and checks a body.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let n = source.chars().count();
        if n == 0 || n > MAX_BODY {
            return Err(TemplateError::Length);
        }
        if let Some(i) = source.chars().position(|c| refused(c, Lines::Many)) {
            return Err(TemplateError::ControlCharacter { position: i + 1 });
        }
        let chars: Vec<char> = source.chars().collect();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c == '}' && next == Some('}') {
                return Err(TemplateError::UnexpectedClose { position: i + 1 });
            }
            if c != '{' || next != Some('{') {
                lit.push(c);
                i += 1;
                continue;
            }
            let open = i + 1;
            let mut j = i + 2;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let start = j;
            while j < chars.len() && is_name_char(chars[j]) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            match (chars.get(j), chars.get(j + 1)) {
                (Some('}'), Some('}')) => {}
                // A single `}` after the name is a forgotten brace, not a bad name.
                (None, _) | (Some('}'), _) => {
                    return Err(TemplateError::Unclosed { position: open });
                }
                (Some(&ch), _) => {
                    // A stray character right after `{{` is an invalid name too.
                    return Err(TemplateError::InvalidName {
                        ch,
                        position: j + 1,
                    });
                }
            }
            if name.is_empty() {
                return Err(TemplateError::EmptyName { position: open });
            }
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Field(name));
            i = j + 2;
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// The body as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The distinct placeholder names, in order of first use.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.parts {
            if let Part::Field(f) = p
                && !out.contains(&f.as_str())
            {
                out.push(f);
            }
        }
        out
    }

    /// Renders for one recipient; `lookup` gives a field's value. Fails with every field the
    /// recipient lacks, so a bulk send can report them per recipient.
    pub fn render(
        &self,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<String, MissingFields> {
        let mut out = String::with_capacity(self.source.len());
        let mut missing: Vec<String> = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => match lookup(f) {
                    Some(v) => out.push_str(&v),
                    None if !missing.contains(f) => missing.push(f.clone()),
                    None => {}
                },
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(MissingFields(missing))
        }
    }

    /// Renders from a map of values.
    pub fn render_map(&self, values: &BTreeMap<String, String>) -> Result<String, MissingFields> {
        self.render(|k| values.get(k).cloned())
    }
}

/// Input for a new or changed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTemplate {
    /// Unique per company.
    pub name: String,
    /// The checked body.
    pub body: TemplateBody,
}

impl NewTemplate {
    /// Validates `name` and `body` (syntax errors carry their position).
    pub fn new(name: &str, body: &str) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", text(name, limits::TEMPLATE_NAME));
        let body = e.take("body", TemplateBody::parse(body));
        e.finish(|| {
            Some(Self {
                name: name?,
                body: body?,
            })
        })
    }
}

/// A stored template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    /// Row id.
    pub id: TemplateId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Name.
    pub name: String,
    /// Body.
    pub body: TemplateBody,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_and_renders_with_turkish_names_and_spaces() {
        let t =
            TemplateBody::parse("Sayın {{ad}}, bakiyeniz {{ bakiye }} TL. {{müşteri.no}}").unwrap();
        assert_eq!(t.fields(), ["ad", "bakiye", "müşteri.no"]);
        let mut m = BTreeMap::new();
        m.insert("ad".into(), "Ayşe".into());
        m.insert("bakiye".into(), "12,50".into());
        m.insert("müşteri.no".into(), "7".into());
        assert_eq!(
            t.render_map(&m).unwrap(),
            "Sayın Ayşe, bakiyeniz 12,50 TL. 7"
        );
    }

    #[test]
    fn reports_missing_fields_once_in_order() {
        let t = TemplateBody::parse("{{b}} {{a}} {{b}}").unwrap();
        assert_eq!(
            t.render(|_| None).unwrap_err().0,
            vec!["b".to_owned(), "a".to_owned()]
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        use TemplateError::*;
        assert_eq!(
            TemplateBody::parse("Merhaba {{ad"),
            Err(Unclosed { position: 9 })
        );
        assert_eq!(
            TemplateBody::parse("a }} b"),
            Err(UnexpectedClose { position: 3 })
        );
        assert_eq!(
            TemplateBody::parse("x{{  }}"),
            Err(EmptyName { position: 2 })
        );
        assert_eq!(
            TemplateBody::parse("{{ad soyad}}"),
            Err(InvalidName {
                ch: 's',
                position: 6
            })
        );
        assert_eq!(
            TemplateBody::parse("{{a-b}}"),
            Err(InvalidName {
                ch: '-',
                position: 4
            })
        );
        assert_eq!(TemplateBody::parse(""), Err(Length));
        assert_eq!(TemplateBody::parse("{{a}"), Err(Unclosed { position: 1 }));
    }

    #[test]
    fn single_braces_are_text() {
        let t = TemplateBody::parse("{a} { b }").unwrap();
        assert!(t.fields().is_empty());
        assert_eq!(t.render(|_| None).unwrap(), "{a} { b }");
    }

    #[test]
    fn new_template_reports_field_names() {
        let e = NewTemplate::new(" ", "{{").unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "body"]);
    }
}
