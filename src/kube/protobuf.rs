//! Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), as far as the provider
//! reads it: the envelope, a `SecretList`'s secrets and a `Status`. Kubelet's own client sends and
//! asks for it (KubeletConfiguration `contentType`, default `application/vnd.kubernetes.protobuf`:
//! k8s.io/kubelet v0.34.1 and v0.35.1, `config/v1beta1`); for a list of thousands of secrets it is
//! a third smaller than JSON (the data is not base64) and much cheaper to read. Field numbers are those of `generated.proto` in k8s.io/api
//! (`core/v1`) and k8s.io/apimachinery (`pkg/runtime`, `pkg/apis/meta/v1`). Pure: bytes in,
//! values borrowed from them out.

use anyhow::{Result, bail, ensure};

use crate::logging;

/// The media type, as the API server names it in `Accept` and `Content-Type`.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// What a request that reads protobuf accepts: protobuf first, JSON where a server does not
/// encode the type in protobuf.
pub const ACCEPT: &str = "application/vnd.kubernetes.protobuf, application/json";

/// Every encoded object starts with these bytes (apimachinery `protoEncodingPrefix`).
const MAGIC: &[u8] = b"k8s\x00";

/// A secret of a list: its name and the value of one data key, if it has that key.
#[derive(Debug, PartialEq, Eq)]
pub struct ListedSecret<'a> {
    pub name: &'a str,
    pub data: Option<&'a [u8]>,
}

/// What a `Status` says.
#[derive(Debug, PartialEq, Eq)]
pub struct Status<'a> {
    pub reason: &'a str,
    pub message: &'a str,
}

/// The secrets of a `SecretList` answer, each with the value of its `data_key`.
pub fn secret_list<'a>(body: &'a [u8], data_key: &str) -> Result<Vec<ListedSecret<'a>>> {
    let list = object(body, "SecretList")?;
    let mut secrets = Vec::new();
    for field in Fields(list) {
        // SecretList: metadata = 1, items = 2.
        if let (2, Value::Bytes(secret)) = field? {
            secrets.push(listed_secret(secret, data_key)?);
        }
    }
    Ok(secrets)
}

/// The `Status` of an answer that is one.
pub fn status(body: &[u8]) -> Result<Status<'_>> {
    let status = object(body, "Status")?;
    // Status: metadata = 1, status = 2, message = 3, reason = 4, details = 5, code = 6.
    Ok(Status {
        reason: text_field(status, 4, "the reason of the Status")?,
        message: text_field(status, 3, "the message of the Status")?,
    })
}

/// The encoded object of the envelope: the magic number, then a `runtime.Unknown` whose
/// `typeMeta.kind` must be `kind` and whose `raw` is the object.
fn object<'a>(body: &'a [u8], kind: &str) -> Result<&'a [u8]> {
    let Some(unknown) = body.strip_prefix(MAGIC) else {
        bail!("it does not start with the magic number of Kubernetes' protobuf encoding");
    };
    let (mut found, mut raw) = ("", None);
    for field in Fields(unknown) {
        // Unknown: typeMeta = 1 (apiVersion = 1, kind = 2), raw = 2, contentEncoding = 3.
        match field? {
            (1, Value::Bytes(type_meta)) => {
                found = text_field(type_meta, 2, "the kind of the object")?
            }
            (2, Value::Bytes(object)) => raw = Some(object),
            (3, Value::Bytes(encoding)) => ensure!(
                encoding.is_empty(),
                "its content encoding is {}, which is not read",
                logging::quoted(&String::from_utf8_lossy(encoding))
            ),
            _ => {}
        }
    }
    ensure!(
        found == kind,
        "it is a {}, not a {kind}",
        logging::quoted(found)
    );
    Ok(raw.unwrap_or_default())
}

fn listed_secret<'a>(secret: &'a [u8], data_key: &str) -> Result<ListedSecret<'a>> {
    let (mut name, mut data) = ("", None);
    for field in Fields(secret) {
        // Secret: metadata = 1 (ObjectMeta: name = 1), data = 2 (entries: key = 1, value = 2).
        match field? {
            (1, Value::Bytes(metadata)) => name = text_field(metadata, 1, "a secret's name")?,
            (2, Value::Bytes(entry)) => {
                let (mut key, mut value) = (&b""[..], &b""[..]);
                for field in Fields(entry) {
                    match field? {
                        (1, Value::Bytes(bytes)) => key = bytes,
                        (2, Value::Bytes(bytes)) => value = bytes,
                        _ => {}
                    }
                }
                if key == data_key.as_bytes() {
                    data = Some(value);
                }
            }
            _ => {}
        }
    }
    Ok(ListedSecret { name, data })
}

/// The string field `number` of a message (`what` it is, for the error), empty when it has none;
/// of several, the last, as protobuf reads a repeated scalar field.
fn text_field<'a>(message: &'a [u8], number: u64, what: &str) -> Result<&'a str> {
    let mut text = &b""[..];
    for field in Fields(message) {
        if let (n, Value::Bytes(bytes)) = field?
            && n == number
        {
            text = bytes;
        }
    }
    std::str::from_utf8(text).map_err(|_| anyhow::anyhow!("{what} is not UTF-8"))
}

/// A field's value: only length-delimited ones (strings, bytes, messages) are read.
#[derive(Debug, PartialEq, Eq)]
enum Value<'a> {
    Bytes(&'a [u8]),
    Scalar,
}

/// The fields of an encoded message, in order: (field number, value).
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            // A message that is not well formed ends with its first error.
            self.0 = &[];
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<(u64, Value<'a>)> {
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => self.varint().map(|_| Value::Scalar)?,
            1 => self.take(8).map(|_| Value::Scalar)?,
            2 => {
                let length = self.varint()?;
                let length = usize::try_from(length).unwrap_or(usize::MAX);
                Value::Bytes(self.take(length)?)
            }
            5 => self.take(4).map(|_| Value::Scalar)?,
            wire_type => bail!("a field has wire type {wire_type}, which the API never writes"),
        };
        Ok((tag >> 3, value))
    }

    fn varint(&mut self) -> Result<u64> {
        // Tags and most lengths are below 128: one byte.
        if let Some((&byte, rest)) = self.0.split_first()
            && byte < 0x80
        {
            self.0 = rest;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        bail!("a number is cut short or longer than 10 bytes")
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8]> {
        ensure!(length <= self.0.len(), "a field is cut short");
        let (taken, rest) = self.0.split_at(length);
        self.0 = rest;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field: tag, length, bytes.
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut encoded = vec![number << 3 | 2];
        let mut length = bytes.len();
        while length >= 0x80 {
            encoded.push(length as u8 | 0x80);
            length >>= 7;
        }
        encoded.push(length as u8);
        encoded.extend_from_slice(bytes);
        encoded
    }

    fn envelope(kind: &str, object: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, b"v1"), field(2, kind.as_bytes())].concat();
        let unknown = [
            field(1, &type_meta),
            field(2, object),
            field(3, b""),
            field(4, b""),
        ]
        .concat();
        [MAGIC, &unknown].concat()
    }

    fn secret(name: &str, data: &[(&str, &[u8])]) -> Vec<u8> {
        // ObjectMeta as the API server writes it: name, generateName, namespace, uid, generation.
        let metadata = [
            field(1, name.as_bytes()),
            field(2, b""),
            field(3, b"team"),
            field(5, b"0f6c5d3e"),
            vec![7 << 3, 0x96, 0x01],
        ]
        .concat();
        let mut secret = field(1, &metadata);
        for (key, value) in data {
            secret.extend(field(
                2,
                &[field(1, key.as_bytes()), field(2, value)].concat(),
            ));
        }
        secret.extend(field(3, b"kubernetes.io/dockerconfigjson"));
        secret
    }

    #[test]
    fn a_secret_list_gives_each_secrets_name_and_the_value_of_the_data_key() {
        let list_meta = field(1, &field(2, b"4711"));
        let items = [
            field(2, &secret("a", &[(".dockerconfigjson", b"{\"auths\":{}}")])),
            field(
                2,
                &secret("b", &[("other", b"x"), (".dockerconfigjson", b"{}")]),
            ),
            field(2, &secret("c", &[(".dockercfg", b"{}")])),
        ];
        let body = envelope("SecretList", &[list_meta, items.concat()].concat());
        assert_eq!(
            secret_list(&body, ".dockerconfigjson").unwrap(),
            [
                ListedSecret {
                    name: "a",
                    data: Some(&b"{\"auths\":{}}"[..])
                },
                ListedSecret {
                    name: "b",
                    data: Some(&b"{}"[..])
                },
                ListedSecret {
                    name: "c",
                    data: None
                },
            ]
        );
    }

    #[test]
    fn an_empty_list_has_no_secrets() {
        let body = envelope("SecretList", &field(1, &field(2, b"1")));
        assert_eq!(secret_list(&body, ".dockercfg").unwrap(), []);
    }

    #[test]
    fn a_status_gives_its_reason_and_message() {
        let status = [
            field(1, b""),
            field(2, b"Failure"),
            field(3, b"secrets is forbidden"),
            field(4, b"Forbidden"),
            vec![6 << 3, 0x93, 0x03],
        ]
        .concat();
        assert_eq!(
            status_of(&envelope("Status", &status)),
            Status {
                reason: "Forbidden",
                message: "secrets is forbidden"
            }
        );
    }

    fn status_of(body: &[u8]) -> Status<'_> {
        status(body).unwrap()
    }

    #[test]
    fn numbers_of_every_length_and_fixed_width_fields_are_skipped() {
        // Fields 9 (varint 2^63), 10 (64-bit) and 11 (32-bit) before the name.
        let mut metadata = vec![9 << 3];
        metadata.extend([0x80; 9]);
        metadata.push(0x01);
        metadata.extend([10 << 3 | 1, 1, 2, 3, 4, 5, 6, 7, 8, 11 << 3 | 5, 1, 2, 3, 4]);
        metadata.extend(field(1, b"named"));
        let body = envelope("SecretList", &field(2, &field(1, &metadata)));
        assert_eq!(secret_list(&body, "k").unwrap()[0].name, "named");
    }

    #[test]
    fn a_length_of_two_bytes_is_read() {
        let name = "n".repeat(300);
        let secret = field(1, &field(1, name.as_bytes()));
        assert_eq!(&secret[..3], [1 << 3 | 2, 0xaf, 0x02], "a two-byte length");
        let body = envelope("SecretList", &field(2, &secret));
        assert_eq!(secret_list(&body, "k").unwrap()[0].name, name);
    }

    #[test]
    fn an_answer_that_is_not_what_was_asked_is_refused_with_what_it_is() {
        let not_protobuf = secret_list(b"{\"kind\":\"SecretList\"}", "k").unwrap_err();
        assert!(
            not_protobuf.to_string().contains("magic number"),
            "{not_protobuf}"
        );
        let status_body = envelope("Status", &field(3, b"no"));
        let other_kind = secret_list(&status_body, "k").unwrap_err();
        assert_eq!(
            other_kind.to_string(),
            "it is a \"Status\", not a SecretList"
        );
    }

    #[test]
    fn a_compressed_object_is_refused() {
        let type_meta = [field(1, b"v1"), field(2, b"SecretList")].concat();
        let unknown = [field(1, &type_meta), field(2, b""), field(3, b"gzip")].concat();
        let error = secret_list(&[MAGIC, &unknown].concat(), "k").unwrap_err();
        assert_eq!(
            error.to_string(),
            "its content encoding is \"gzip\", which is not read"
        );
    }

    #[test]
    fn a_message_cut_short_is_refused() {
        let body = envelope("SecretList", &field(2, &secret("a", &[("k", b"v")])));
        for length in [MAGIC.len() + 1, body.len() - 1] {
            let error = secret_list(&body[..length], "k").unwrap_err();
            assert!(error.to_string().contains("cut short"), "{length}: {error}");
        }
        let endless_number = [MAGIC, &[0x80; 11][..]].concat();
        assert!(secret_list(&endless_number, "k").is_err());
    }

    #[test]
    fn a_group_or_an_unknown_wire_type_is_refused() {
        for wire_type in [3, 4, 6, 7] {
            let body = [MAGIC, &[1 << 3 | wire_type][..]].concat();
            let error = secret_list(&body, "k").unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("a field has wire type {wire_type}, which the API never writes")
            );
        }
    }

    #[test]
    fn a_name_that_is_not_utf8_is_refused() {
        let secret = field(1, &field(1, &[0xff, 0xfe]));
        let error = secret_list(&envelope("SecretList", &field(2, &secret)), "k").unwrap_err();
        assert_eq!(error.to_string(), "a secret's name is not UTF-8");
    }
}
