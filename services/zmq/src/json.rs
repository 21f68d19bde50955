//! The pipelines' JSON messages, written and read without per-message work that the message does
//! not need. The bytes on the wire stay what serde_json writes, readable in Wireshark.
//!
//! - [`Numbered`] writes an object whose fields are the same in every message except the number
//!   at its end (`{"payload":"x…","task":7}`): serde_json serializes everything before the
//!   number once. Escaping the same payload again for every task was 16 % of the pusher's CPU.
//! - [`last_number`] reads that number back from the object's end, where a subscriber needs
//!   nothing else: parsing the whole update with serde was 13 % of a subscriber's CPU.
//! - [`Text`] and [`ByteLen`] read a string field borrowed from the message. serde's derive
//!   borrows a bare `Cow<'a, str>` field, but copies one inside an `Option` into a new `String`:
//!   a `malloc`, a copy and a `free` per message in the worker and the sink.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// JSON objects whose last field is a number and whose other fields never change.
pub struct Numbered {
    /// The object up to its number: `{"payload":"x…","task":`.
    prefix: Vec<u8>,
}

impl Numbered {
    /// From `object`, serialized with its last field set to 0.
    pub fn new(object: &impl Serialize) -> Self {
        let mut prefix = serde_json::to_vec(object).expect("serializing to memory cannot fail");
        assert!(
            prefix.ends_with(b":0}"),
            "the last field must be a number set to 0: {}",
            String::from_utf8_lossy(&prefix)
        );
        prefix.truncate(prefix.len() - 2);
        Numbered { prefix }
    }

    /// Replaces `buf` with the object whose number is `n`.
    pub fn write(&self, n: u64, buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(&self.prefix);
        buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        buf.push(b'}');
    }

    /// The object whose number is `n`, as text.
    pub fn text(&self, n: u64) -> String {
        let mut buf = Vec::new();
        self.write(n, &mut buf);
        String::from_utf8(buf).expect("serde_json and itoa write UTF-8")
    }
}

/// The number `n` of an object that ends `,"KEY":n}` or `{"KEY":n}`, as [`Numbered`] writes it,
/// read from its end without parsing the fields before it (the C subscriber of the bench finds
/// `"seq":` with `memmem` in the same way). `None` when the object ends any other way (a space,
/// a sign, a leading zero, another key), and the caller then parses the whole object.
pub fn last_number(object: &[u8], key: &str) -> Option<u64> {
    let body = object.strip_suffix(b"}")?;
    let digits = body.len() - body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let (head, number) = body.split_at(digits);
    if number.is_empty() || (number.len() > 1 && number[0] == b'0') {
        return None;
    }
    let head = head.strip_suffix(b"\":")?.strip_suffix(key.as_bytes())?;
    // The key's opening quote follows the object's brace or a comma, never a backslash.
    if !matches!(head.strip_suffix(b"\"")?.last(), Some(b',' | b'{')) {
        return None;
    }
    std::str::from_utf8(number).ok()?.parse().ok()
}

/// A string field, borrowed from the message unless it holds escapes.
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(TextVisitor).map(Text)
    }
}

/// The length in bytes of a string field (its escapes decoded), read without copying it or
/// checking its UTF-8.
pub struct ByteLen(pub usize);

impl<'de> Deserialize<'de> for ByteLen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenVisitor;
        impl Visitor<'_> for LenVisitor {
            type Value = usize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<usize, E> {
                Ok(v.len())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
                Ok(v.len())
            }
        }
        deserializer.deserialize_bytes(LenVisitor).map(ByteLen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Task<'a> {
        payload: &'a str,
        task: u64,
    }

    #[test]
    fn numbered_objects_are_the_bytes_serde_json_writes() {
        for payload in ["", "xxxx", "a \"quoted\" \\ line\nand ünïcode"] {
            let numbered = Numbered::new(&Task { payload, task: 0 });
            let mut buf = b"left over".to_vec();
            for task in [0, 7, 10, 65_535, u64::MAX] {
                numbered.write(task, &mut buf);
                assert_eq!(buf, serde_json::to_vec(&Task { payload, task }).unwrap());
                assert_eq!(numbered.text(task).as_bytes(), buf);
            }
        }
    }

    #[derive(Deserialize)]
    struct Seq {
        seq: Option<u64>,
    }

    #[test]
    fn the_last_number_is_what_serde_reads_or_none() {
        #[derive(Serialize)]
        struct Update<'a> {
            data: &'a str,
            seq: u64,
        }
        for data in ["", "x", "\",\"seq\":1}", "a \"quoted\" \\ line"] {
            let numbered = Numbered::new(&Update { data, seq: 0 });
            for n in [0, 9, 10, 1_234_567, u64::MAX] {
                let text = numbered.text(n);
                let serde = serde_json::from_str::<Seq>(&text).unwrap().seq;
                assert_eq!(last_number(text.as_bytes(), "seq"), serde, "{text}");
            }
        }
        assert_eq!(last_number(br#"{"seq":42}"#, "seq"), Some(42));
        for other in [
            r#"{"seq": 42}"#,
            r#"{"seq":042}"#,
            r#"{"seq":-4}"#,
            r#"{"seq":4.5}"#,
            r#"{"seq":"4"}"#,
            r#"{"seq":4} "#,
            r#"{"seq":}"#,
            r#"{"xseq":4}"#,
            r#"{"a\"seq":4}"#,
            r#"{"a":{"seq":4}}"#,
            r#"{"seq":18446744073709551616}"#,
            "",
            "}",
        ] {
            assert_eq!(last_number(other.as_bytes(), "seq"), None, "{other}");
        }
    }

    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        name: Option<Text<'a>>,
        body: Option<ByteLen>,
    }

    #[test]
    fn strings_are_borrowed_unless_escaped_and_lengths_are_of_the_decoded_bytes() {
        let plain: Message = serde_json::from_slice(br#"{"name":"w-1","body":"xyz"}"#).unwrap();
        assert!(matches!(plain.name, Some(Text(Cow::Borrowed("w-1")))));
        assert_eq!(plain.body.map(|b| b.0), Some(3));
        let escaped: Message =
            serde_json::from_slice(br#"{"name":"w\"1","body":"a\u00e9\n"}"#).unwrap();
        assert!(matches!(escaped.name, Some(Text(Cow::Owned(ref s))) if s == "w\"1"));
        assert_eq!(escaped.body.map(|b| b.0), Some("aé\n".len()));
        let absent: Message = serde_json::from_slice(b"{}").unwrap();
        assert!(absent.name.is_none() && absent.body.is_none());
        assert!(serde_json::from_slice::<Message>(br#"{"name":7}"#).is_err());
        assert!(serde_json::from_slice::<Message>(br#"{"body":[1]}"#).is_err());
    }
}
