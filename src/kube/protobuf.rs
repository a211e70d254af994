//! Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), as far as the provider
//! reads it: the envelope, a `SecretList`'s secrets and a `Status`. Kubelet's own client sends and
//! asks for it (KubeletConfiguration `contentType`, default `application/vnd.kubernetes.protobuf`:
//! k8s.io/kubelet v0.34.1 and v0.35.1, `config/v1beta1`); for a list of thousands of secrets it is
//! a third smaller than JSON (the data is not base64) and much cheaper to read, and it is read as
//! it arrives, a secret at a time. Field numbers are those of `generated.proto` in k8s.io/api
//! (`core/v1`) and k8s.io/apimachinery (`pkg/runtime`, `pkg/apis/meta/v1`). No I/O: bytes in,
//! values borrowed from them out (from the reader's copy, for a secret split between two reads).

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

/// Reads a `SecretList` answer as its bytes arrive, handing on each secret, with the value of
/// its data key, as soon as all of it is there: a namespace's thousands of secrets are never held
/// as one answer. Only a field that straddles two reads is copied, and only that field. The
/// envelope writes its content encoding after its object, so a list is read before the encoding
/// is known: a compressed one is refused by what its first compressed byte reads as. The API
/// server never sets an encoding (apimachinery's protobuf `Serializer.doEncode` writes only the
/// type meta and the object: kubernetes `054d429`).
pub struct SecretListReader<'k> {
    data_key: &'k str,
    at: Position,
    /// The start of a field whose end has not arrived yet.
    pending: Vec<u8>,
    /// The kind the envelope names, once read.
    kind: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Position {
    /// Before the magic number.
    Magic,
    /// Among the fields of the envelope, a `runtime.Unknown`.
    Envelope,
    /// Within its object (`raw`), the `SecretList`, of which this many bytes are still to come.
    List { left: usize },
}

/// What one step over the answer did.
enum Step {
    /// It read this many bytes.
    Read(usize),
    /// It needs more: this many bytes in all, where the step knows.
    Needs(Option<usize>),
}

/// A field's tag and its length, or its tag and its value where that is a number, take at most
/// this many bytes (two numbers of at most 10 bytes each).
const MAX_HEADER: usize = 20;

impl<'k> SecretListReader<'k> {
    pub fn new(data_key: &'k str) -> Self {
        SecretListReader {
            data_key,
            at: Position::Magic,
            pending: Vec::new(),
            kind: None,
        }
    }

    /// Reads the next bytes of the answer, calling `each` with every secret they complete.
    pub fn read(
        &mut self,
        mut bytes: &[u8],
        each: &mut impl FnMut(ListedSecret<'_>),
    ) -> Result<()> {
        // First the field an earlier read began, with as much of `bytes` as it lacks.
        while !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let step = self.step(&pending, each);
            self.pending = pending;
            match step? {
                Step::Read(read) => {
                    self.pending.drain(..read);
                }
                Step::Needs(_) if bytes.is_empty() => return Ok(()),
                Step::Needs(total) => {
                    let lacking = total.map_or(MAX_HEADER, |total| total - self.pending.len());
                    let (taken, rest) = bytes.split_at(lacking.min(bytes.len()));
                    self.pending.extend_from_slice(taken);
                    bytes = rest;
                }
            }
        }
        let mut at = 0;
        while at < bytes.len() {
            match self.step(&bytes[at..], each)? {
                Step::Read(read) => at += read,
                Step::Needs(_) => break,
            }
        }
        self.pending.extend_from_slice(&bytes[at..]);
        Ok(())
    }

    /// Ends the answer: it must not end inside a field, and must have been a `SecretList`.
    pub fn finish(self) -> Result<()> {
        match self.at {
            Position::Magic => bail!(NOT_PROTOBUF),
            Position::List { left } => ensure!(left == 0, CutShort),
            Position::Envelope => {}
        }
        ensure!(self.pending.is_empty(), CutShort);
        of_kind(self.kind.as_deref().unwrap_or_default(), "SecretList")
    }

    /// Reads what `bytes` start with at the current position: the magic number, a field of the
    /// envelope, the start of its object, or a field of the list.
    fn step(&mut self, bytes: &[u8], each: &mut impl FnMut(ListedSecret<'_>)) -> Result<Step> {
        match self.at {
            Position::Magic => {
                let seen = &bytes[..bytes.len().min(MAGIC.len())];
                ensure!(MAGIC.starts_with(seen), NOT_PROTOBUF);
                if seen.len() < MAGIC.len() {
                    return Ok(Step::Needs(Some(MAGIC.len())));
                }
                self.at = Position::Envelope;
                Ok(Step::Read(MAGIC.len()))
            }
            Position::Envelope => {
                let Some(header) = Header::read(bytes)? else {
                    return Ok(Step::Needs(None));
                };
                // Unknown: typeMeta = 1 (apiVersion = 1, kind = 2), raw = 2, contentEncoding = 3.
                if let (2, Wire::Bytes(length)) = (header.number, header.wire) {
                    // The object is read as it comes, once the kind is known to be right.
                    if let Some(kind) = self.kind.as_deref() {
                        of_kind(kind, "SecretList")?;
                    }
                    self.at = Position::List { left: length };
                    return Ok(Step::Read(header.size));
                }
                let Some((read, value)) = header.whole(bytes)? else {
                    return Ok(Step::Needs(header.total()));
                };
                match (header.number, value) {
                    (1, Value::Bytes(type_meta)) => {
                        let kind = text_field(type_meta, 2, "the kind of the object")?;
                        self.kind = Some(kind.to_string());
                    }
                    (3, Value::Bytes(encoding)) => uncompressed(encoding)?,
                    _ => {}
                }
                Ok(Step::Read(read))
            }
            Position::List { left: 0 } => {
                self.at = Position::Envelope;
                Ok(Step::Read(0))
            }
            Position::List { left } => {
                let bytes = &bytes[..bytes.len().min(left)];
                let complete = bytes.len() == left;
                let Some(header) = Header::read(bytes)? else {
                    ensure!(!complete, CutShort);
                    return Ok(Step::Needs(None));
                };
                ensure!(header.total().is_none_or(|total| total <= left), CutShort);
                let Some((read, value)) = header.whole(bytes)? else {
                    ensure!(!complete, CutShort);
                    return Ok(Step::Needs(header.total()));
                };
                // SecretList: metadata = 1, items = 2.
                if let (2, Value::Bytes(secret)) = (header.number, value) {
                    each(listed_secret(secret, self.data_key)?);
                }
                self.at = Position::List { left: left - read };
                Ok(Step::Read(read))
            }
        }
    }
}

const NOT_PROTOBUF: &str =
    "it does not start with the magic number of Kubernetes' protobuf encoding";

/// How a field's value is written (its wire type).
#[derive(Debug, Clone, Copy)]
enum Wire {
    Varint,
    /// A number of this many bytes.
    Fixed(usize),
    /// Length-delimited, of this length.
    Bytes(usize),
}

/// The start of a field: its number and how its value is written.
struct Header {
    /// How many bytes the tag (and the length) take.
    size: usize,
    number: u64,
    wire: Wire,
}

impl Header {
    /// The header `bytes` start with; `None` when it has not all arrived.
    fn read(bytes: &[u8]) -> Result<Option<Header>> {
        let mut fields = Fields(bytes);
        let header = fields.header();
        match header {
            Err(e) if e.is::<CutShort>() => Ok(None),
            Err(e) => Err(e),
            Ok((number, wire)) => Ok(Some(Header {
                size: bytes.len() - fields.0.len(),
                number,
                wire,
            })),
        }
    }

    /// The size of the whole field, where the header tells it.
    fn total(&self) -> Option<usize> {
        match self.wire {
            Wire::Varint => None,
            Wire::Fixed(size) | Wire::Bytes(size) => Some(self.size.saturating_add(size)),
        }
    }

    /// The whole field `bytes` start with, and its size; `None` when it has not all arrived.
    fn whole<'a>(&self, bytes: &'a [u8]) -> Result<Option<(usize, Value<'a>)>> {
        let mut fields = Fields(&bytes[self.size..]);
        match fields.value(self.wire) {
            Err(e) if e.is::<CutShort>() => Ok(None),
            Err(e) => Err(e),
            Ok(value) => Ok(Some((bytes.len() - fields.0.len(), value))),
        }
    }
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
        bail!(NOT_PROTOBUF);
    };
    let (mut found, mut raw) = ("", None);
    for field in Fields(unknown) {
        // Unknown: typeMeta = 1 (apiVersion = 1, kind = 2), raw = 2, contentEncoding = 3.
        match field? {
            (1, Value::Bytes(type_meta)) => {
                found = text_field(type_meta, 2, "the kind of the object")?
            }
            (2, Value::Bytes(object)) => raw = Some(object),
            (3, Value::Bytes(encoding)) => uncompressed(encoding)?,
            _ => {}
        }
    }
    of_kind(found, kind)?;
    Ok(raw.unwrap_or_default())
}

/// The envelope names the kind of its object, which must be the one asked for.
fn of_kind(found: &str, kind: &str) -> Result<()> {
    ensure!(
        found == kind,
        "it is a {}, not a {kind}",
        logging::quoted(found)
    );
    Ok(())
}

/// The envelope's object must not be compressed: the API server never does, and it is not read.
fn uncompressed(encoding: &[u8]) -> Result<()> {
    ensure!(
        encoding.is_empty(),
        "its content encoding is {}, which is not read",
        logging::quoted(&String::from_utf8_lossy(encoding))
    );
    Ok(())
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

/// The error of a message that ends inside a field: in an answer still arriving, a field whose
/// end is still to come.
#[derive(Debug)]
struct CutShort;

impl std::fmt::Display for CutShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field is cut short")
    }
}

impl std::error::Error for CutShort {}

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

// Inlined: every field of a namespace's thousands of secrets passes through these (1.2 M
// instructions of the 2,000-secret path when they were calls).
impl<'a> Fields<'a> {
    #[inline]
    fn field(&mut self) -> Result<(u64, Value<'a>)> {
        let (number, wire) = self.header()?;
        Ok((number, self.value(wire)?))
    }

    /// A field's number and how its value is written.
    #[inline]
    fn header(&mut self) -> Result<(u64, Wire)> {
        let tag = self.varint()?;
        let wire = match tag & 7 {
            0 => Wire::Varint,
            1 => Wire::Fixed(8),
            2 => Wire::Bytes(usize::try_from(self.varint()?).unwrap_or(usize::MAX)),
            5 => Wire::Fixed(4),
            wire_type => bail!("a field has wire type {wire_type}, which the API never writes"),
        };
        Ok((tag >> 3, wire))
    }

    #[inline]
    fn value(&mut self, wire: Wire) -> Result<Value<'a>> {
        Ok(match wire {
            Wire::Varint => self.varint().map(|_| Value::Scalar)?,
            Wire::Fixed(size) => self.take(size).map(|_| Value::Scalar)?,
            Wire::Bytes(length) => Value::Bytes(self.take(length)?),
        })
    }

    #[inline]
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
        ensure!(self.0.len() >= 10, CutShort);
        bail!("a number is longer than 10 bytes")
    }

    #[inline]
    fn take(&mut self, length: usize) -> Result<&'a [u8]> {
        ensure!(length <= self.0.len(), CutShort);
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

    /// A secret as read: its name and the value of the data key.
    type Read = (String, Option<Vec<u8>>);

    /// The secrets of a list answer, read in reads of `piece` bytes.
    fn read_in_pieces(body: &[u8], data_key: &str, piece: usize) -> Result<Vec<Read>> {
        let mut reader = SecretListReader::new(data_key);
        let mut secrets = Vec::new();
        for part in body.chunks(piece.max(1)) {
            reader.read(part, &mut |secret| {
                secrets.push((secret.name.to_string(), secret.data.map(<[u8]>::to_vec)));
            })?;
        }
        reader.finish()?;
        Ok(secrets)
    }

    /// The secrets of a list answer, read at once.
    fn secret_list(body: &[u8], data_key: &str) -> Result<Vec<Read>> {
        read_in_pieces(body, data_key, body.len())
    }

    fn read(name: &str, data: Option<&[u8]>) -> Read {
        (name.to_string(), data.map(<[u8]>::to_vec))
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
                read("a", Some(b"{\"auths\":{}}")),
                read("b", Some(b"{}")),
                read("c", None),
            ]
        );
    }

    #[test]
    fn a_list_read_in_pieces_of_any_size_gives_what_it_gives_read_at_once() {
        let items = [
            field(2, &secret("a", &[(".dockercfg", &[b'x'; 300])])),
            field(2, &secret("b", &[(".dockercfg", b"{}")])),
        ];
        let body = envelope("SecretList", &[field(1, b""), items.concat()].concat());
        let whole = secret_list(&body, ".dockercfg").unwrap();
        assert_eq!(
            whole,
            [read("a", Some(&[b'x'; 300])), read("b", Some(b"{}"))]
        );
        for piece in 1..body.len() {
            assert_eq!(
                read_in_pieces(&body, ".dockercfg", piece).unwrap(),
                whole,
                "{piece}"
            );
        }
    }

    #[test]
    fn a_secret_is_handed_on_as_soon_as_all_of_it_has_arrived() {
        let first = field(2, &secret("a", &[]));
        let body = envelope(
            "SecretList",
            &[first.clone(), field(2, &secret("b", &[]))].concat(),
        );
        let end_of_first =
            body.windows(first.len()).position(|w| w == first).unwrap() + first.len();
        let mut reader = SecretListReader::new("k");
        let mut names = Vec::new();
        reader
            .read(&body[..end_of_first - 1], &mut |s| {
                names.push(s.name.to_string())
            })
            .unwrap();
        assert!(names.is_empty());
        reader
            .read(&body[end_of_first - 1..end_of_first], &mut |s| {
                names.push(s.name.to_string())
            })
            .unwrap();
        assert_eq!(names, ["a"]);
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
        assert_eq!(secret_list(&body, "k").unwrap()[0].0, "named");
    }

    #[test]
    fn a_length_of_two_bytes_is_read() {
        let name = "n".repeat(300);
        let secret = field(1, &field(1, name.as_bytes()));
        assert_eq!(&secret[..3], [1 << 3 | 2, 0xaf, 0x02], "a two-byte length");
        let body = envelope("SecretList", &field(2, &secret));
        assert_eq!(secret_list(&body, "k").unwrap()[0].0, name);
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
    fn a_compressed_status_is_refused_by_its_content_encoding() {
        let gzip_of_a_status = [0x1f, 0x8b, 0x08, 0x00];
        let type_meta = [field(1, b"v1"), field(2, b"Status")].concat();
        let unknown = [
            field(1, &type_meta),
            field(2, &gzip_of_a_status),
            field(3, b"gzip"),
        ]
        .concat();
        let error = status(&[MAGIC, &unknown].concat()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "its content encoding is \"gzip\", which is not read"
        );
    }

    #[test]
    fn a_compressed_list_is_refused_by_its_first_byte_and_an_empty_one_by_its_encoding() {
        // gzip starts with 0x1f: field 3 of wire type 7. The encoding comes after the object.
        let body_with = |raw: &[u8]| {
            let type_meta = [field(1, b"v1"), field(2, b"SecretList")].concat();
            let unknown = [field(1, &type_meta), field(2, raw), field(3, b"gzip")].concat();
            [MAGIC, &unknown].concat()
        };
        let error = secret_list(&body_with(&[0x1f, 0x8b, 0x08, 0x00]), "k").unwrap_err();
        assert_eq!(
            error.to_string(),
            "a field has wire type 7, which the API never writes"
        );
        let error = secret_list(&body_with(b""), "k").unwrap_err();
        assert_eq!(
            error.to_string(),
            "its content encoding is \"gzip\", which is not read"
        );
    }

    #[test]
    fn a_message_cut_short_is_refused() {
        let body = envelope("SecretList", &field(2, &secret("a", &[("k", b"v")])));
        for length in [MAGIC.len() + 1, body.len() - 1] {
            for piece in 1..=length {
                let error = read_in_pieces(&body[..length], "k", piece).unwrap_err();
                assert_eq!(
                    error.to_string(),
                    "a field is cut short",
                    "{length}, {piece}"
                );
            }
        }
    }

    #[test]
    fn an_answer_that_ends_within_the_magic_number_is_not_protobuf() {
        let body = envelope("SecretList", &field(2, &secret("a", &[("k", b"v")])));
        for length in 0..MAGIC.len() {
            let error = secret_list(&body[..length], "k").unwrap_err();
            assert!(
                error.to_string().contains("magic number"),
                "{length}: {error}"
            );
        }
    }

    #[test]
    fn a_number_longer_than_10_bytes_is_refused_as_a_tag_and_as_a_value() {
        let endless_tag = [MAGIC, &[0x80; 11][..]].concat();
        let endless_value = [MAGIC, &[5 << 3], &[0x80; 11][..]].concat();
        for body in [endless_tag, endless_value] {
            let error = secret_list(&body, "k").unwrap_err();
            assert_eq!(error.to_string(), "a number is longer than 10 bytes");
        }
    }

    #[test]
    fn an_item_longer_than_its_list_is_refused_as_soon_as_its_length_is_read() {
        // The list is 3 bytes long; its item says it is 100 long, and only its header has arrived.
        let list = [2 << 3 | 2, 100, 0];
        let body = envelope("SecretList", &list);
        let header_end = body.windows(3).position(|w| w == list).unwrap() + 2;
        let error = SecretListReader::new("k")
            .read(&body[..header_end], &mut |_| panic!("no secret"))
            .unwrap_err();
        assert_eq!(error.to_string(), "a field is cut short");
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
