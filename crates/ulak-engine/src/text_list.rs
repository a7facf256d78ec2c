//! A list of short texts in one buffer: a million pasted numbers take about 15 MB this way
//! instead of about 40 MB as separate `String`s (24 bytes of header and a heap block each),
//! which matters at campaign creation and start, when the whole audience is in memory.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Texts kept end to end in one buffer, read and written as a JSON array of strings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextList {
    /// Every text, one after another.
    text: String,
    /// Where each text ends in `text`.
    ends: Vec<u32>,
}

impl TextList {
    /// How many texts.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th text.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        self.text.get(start..end)
    }

    /// The texts in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Adds a text at the end. Panics only past 4 GiB of text, far beyond any request body.
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        let end = u32::try_from(self.text.len()).unwrap_or_else(|_| {
            // A request body is limited to a few tens of megabytes long before this.
            panic!("text list over 4 GiB")
        });
        self.ends.push(end);
    }
}

impl<S: AsRef<str>> FromIterator<S> for TextList {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut list = Self::default();
        for s in iter {
            list.push(s.as_ref());
        }
        list
    }
}

impl fmt::Debug for TextList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for TextList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for s in self.iter() {
            seq.serialize_element(s)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ListVisitor)
    }
}

/// Reads a JSON array of strings straight into the buffer, with no `String` per element.
struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = TextList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextList, A::Error> {
        let mut list = TextList::default();
        if let Some(n) = seq.size_hint() {
            list.ends.reserve(n);
        }
        while seq.next_element_seed(Push(&mut list))?.is_some() {}
        list.text.shrink_to_fit();
        list.ends.shrink_to_fit();
        Ok(list)
    }
}

/// Appends one string element to the list.
struct Push<'a>(&'a mut TextList);

impl<'de> DeserializeSeed<'de> for Push<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Push<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        if self.0.text.len() + s.len() > u32::MAX as usize {
            return Err(E::custom("the list is too long"));
        }
        self.0.push(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_and_writes_a_json_array_of_strings() {
        let json = r#"["0532 111 22 33","","+90 (532) 1112234","a\"b\u00e7"]"#;
        let list: TextList = serde_json::from_str(json).unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list.get(0), Some("0532 111 22 33"));
        assert_eq!(list.get(1), Some(""));
        assert_eq!(list.get(3), Some("a\"bç"));
        assert_eq!(list.get(4), None);
        let back = serde_json::to_string(&list).unwrap();
        assert_eq!(back, r#"["0532 111 22 33","","+90 (532) 1112234","a\"bç"]"#);
        let again: TextList = serde_json::from_str(&back).unwrap();
        assert_eq!(again, list);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            vec!["0532 111 22 33", "", "+90 (532) 1112234", "a\"bç"]
        );
    }

    #[test]
    fn anything_but_strings_is_refused() {
        assert!(serde_json::from_str::<TextList>("[1]").is_err());
        assert!(serde_json::from_str::<TextList>(r#"["a", null]"#).is_err());
        assert!(serde_json::from_str::<TextList>(r#""a""#).is_err());
        assert!(serde_json::from_str::<TextList>("[]").unwrap().is_empty());
    }
}
