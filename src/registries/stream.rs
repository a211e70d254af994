//! A streaming reader for registries.conf as it is written in practice: the table headers
//! `[[registry]]`, `[[registry.mirror]]`, `[aliases]` and the V1 `[registries.*]` ones, and lines of
//! `key = scalar` or `key = [scalars]`. It reads what the TOML deserializer reads into `RawFile`,
//! from `toml_parser` events, one line at a time, handing each registry entry over as soon as it is
//! complete and never building a TOML document: a
//! 10,000-entry file takes a fraction of the time and memory. Anything else (dotted keys, inline
//! tables, other tables, a duplicate key, a value of the wrong type, a syntax error, invalid UTF-8)
//! makes it give up, and the full TOML deserializer decides on the same bytes, with its error
//! messages.

use std::borrow::Cow;
use std::collections::HashSet;

use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::lexer::{Token, TokenKind};
use toml_parser::parser::{EventReceiver, ValidateWhitespace};
use toml_parser::{ErrorSink, ParseError, Source, Span};

use super::schema::{RawFile, RawMirror, RawRegistry};

/// Reads `bytes`, lexing them once, and hands each `[[registry]]` entry to `on_registry` once it
/// is complete, so that the raw entries of a large file are never all held. `Some(rest)`:
/// everything else the file says. `None`: the full parser must decide (entries already handed
/// over are then to be discarded).
pub(super) fn read(bytes: &[u8], on_registry: &mut dyn FnMut(RawRegistry)) -> Option<RawFile> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut state = State::default();
    state.read_lines(text, on_registry)?;
    state.finish(on_registry)
}

/// The stream reader's file with the entries it handed over put back in, for comparing it with
/// the deserializer's.
#[cfg(any(test, fuzzing))]
pub(super) fn read_whole(bytes: &[u8]) -> Option<RawFile> {
    let mut registries = Vec::new();
    let mut rest = read(bytes, &mut |raw| registries.push(raw))?;
    rest.registry = registries;
    Some(rest)
}

/// Whether the stream reader read `bytes`; panics if the deserializer reads them otherwise.
#[cfg(any(test, fuzzing))]
pub(super) fn assert_agrees(bytes: &[u8]) -> bool {
    let Some(streamed) = read_whole(bytes) else {
        return false;
    };
    let full: Option<RawFile> = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| toml::from_str(text).ok());
    assert_eq!(
        Some(&streamed),
        full.as_ref(),
        "stream and deserializer disagree on {:?}",
        String::from_utf8_lossy(bytes)
    );
    true
}

/// What outlives a line: the file so far, the table being filled, the entry being read.
#[derive(Default)]
struct State {
    file: RawFile,
    table: Table,
    /// The standard tables seen: TOML forbids repeating one.
    tables: HashSet<Table>,
    /// The `[[registry]]` being read (its mirrors follow it), and those complete.
    current: Option<RawRegistry>,
    done: Vec<RawRegistry>,
    gave_up: bool,
}

impl State {
    /// Parses `text` a line at a time (a line and the lines an array or inline table it opens
    /// spans), handing over the entries each one completes: the parser only ever holds the tokens
    /// of one line, so megabytes of blank lines or comments cost no memory.
    fn read_lines(&mut self, text: &str, on_registry: &mut dyn FnMut(RawRegistry)) -> Option<()> {
        let source = Source::new(text);
        let mut reader = Reader::new(source, self);
        let mut line: Vec<Token> = Vec::with_capacity(64);
        let mut depth = 0usize;
        for token in source.lex() {
            let kind = token.kind();
            match kind {
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.checked_sub(1)?
                }
                // Blank lines and indentation between lines mean nothing to the parser, so it never
                // sees them: a newline is checked here as it would check it (LF or CRLF only).
                TokenKind::Newline if line.is_empty() => {
                    let newline = source.get(token.span())?.as_str();
                    if newline != "\n" && newline != "\r\n" {
                        return None;
                    }
                    continue;
                }
                TokenKind::Whitespace if line.is_empty() => continue,
                _ => {}
            }
            line.push(token);
            if kind == TokenKind::Newline && depth == 0 {
                reader.parse(&line)?;
                reader.state.done.drain(..).for_each(&mut *on_registry);
                line.clear();
            }
        }
        reader.parse(&line)?;
        Some(())
    }

    fn finish(mut self, on_registry: &mut dyn FnMut(RawRegistry)) -> Option<RawFile> {
        if self.gave_up {
            return None;
        }
        self.done.extend(self.current.take());
        self.done.drain(..).for_each(on_registry);
        Some(self.file)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
enum Table {
    #[default]
    Root,
    Registry,
    Mirror,
    Aliases,
    V1Search,
    V1Insecure,
    V1Block,
}

enum Scalar<'i> {
    String(Cow<'i, str>),
    Boolean(bool),
    /// A valid value of a type no key of registries.conf takes.
    Other,
}

enum Value<'i> {
    Scalar(Scalar<'i>),
    Array(Vec<Scalar<'i>>),
}

/// Receives the parser's events for the lines of a file.
struct Reader<'i, 's> {
    source: Source<'i>,
    state: &'s mut State,
    /// Keys of the header being read, or of the key being assigned.
    header: Option<Vec<Cow<'i, str>>>,
    key: Option<Cow<'i, str>>,
    array: Option<Vec<Scalar<'i>>>,
    /// Keys assigned in the current table: TOML forbids repeats.
    keys: HashSet<Cow<'i, str>>,
}

impl<'i, 's> Reader<'i, 's> {
    fn new(source: Source<'i>, state: &'s mut State) -> Self {
        Reader {
            source,
            state,
            header: None,
            key: None,
            array: None,
            keys: HashSet::new(),
        }
    }

    fn parse(&mut self, tokens: &[Token]) -> Option<()> {
        let mut error: Option<ParseError> = None;
        // As the deserializer: comments and newlines checked too (no control characters).
        let source = self.source;
        let mut validated = ValidateWhitespace::new(self, source);
        toml_parser::parser::parse_document(tokens, &mut validated, &mut error);
        let complete = self.header.is_none() && self.key.is_none() && self.array.is_none();
        (error.is_none() && complete && !self.state.gave_up).then_some(())
    }

    fn give_up(&mut self) {
        self.state.gave_up = true;
    }

    fn decode_key(&mut self, span: Span, encoding: Option<Encoding>) -> Option<Cow<'i, str>> {
        let raw = toml_parser::Raw::new_unchecked(self.source.get(span)?.as_str(), encoding, span);
        let mut key = Cow::Borrowed("");
        let mut error: Option<ParseError> = None;
        raw.decode_key(&mut key, &mut error);
        error.is_none().then_some(key)
    }

    fn decode_scalar(&mut self, span: Span, encoding: Option<Encoding>) -> Option<Scalar<'i>> {
        let raw = toml_parser::Raw::new_unchecked(self.source.get(span)?.as_str(), encoding, span);
        let mut value = Cow::Borrowed("");
        let mut error: Option<ParseError> = None;
        let kind = raw.decode_scalar(&mut value, &mut error);
        if error.is_some() {
            return None;
        }
        match kind {
            ScalarKind::String => Some(Scalar::String(value)),
            ScalarKind::Boolean(value) => Some(Scalar::Boolean(value)),
            // No key of registries.conf takes a number; an unknown key may have one, if it is a
            // valid TOML integer (64 bits, as the deserializer reads it).
            ScalarKind::Integer(radix) => i64::from_str_radix(&value, radix.value())
                .is_ok()
                .then_some(Scalar::Other),
            // Floats and dates are the deserializer's to check.
            ScalarKind::Float | ScalarKind::DateTime => None,
        }
    }

    fn open_table(&mut self, array: bool) {
        let header = self.header.take().unwrap_or_default();
        let path: Vec<&str> = header.iter().map(|k| k.as_ref()).collect();
        let state = &mut *self.state;
        let table = match (array, path.as_slice()) {
            (true, ["registry"]) => {
                state
                    .done
                    .extend(state.current.replace(RawRegistry::default()));
                Table::Registry
            }
            (true, ["registry", "mirror"]) => match &mut state.current {
                Some(registry) => {
                    // Most entries have one mirror; a first push would reserve room for four.
                    registry.mirror.reserve_exact(1);
                    registry.mirror.push(RawMirror::default());
                    Table::Mirror
                }
                None => return self.give_up(),
            },
            (false, ["aliases"]) => Table::Aliases,
            (false, ["registries", "search"]) => Table::V1Search,
            (false, ["registries", "insecure"]) => Table::V1Insecure,
            (false, ["registries", "block"]) => Table::V1Block,
            _ => return self.give_up(),
        };
        if !array && !self.state.tables.insert(table) {
            return self.give_up();
        }
        self.state.table = table;
        self.keys.clear();
    }

    fn assign(&mut self, value: Value<'i>) {
        let Some(key) = self.key.take() else {
            return self.give_up();
        };
        if !self.keys.insert(key.clone()) {
            return self.give_up(); // a duplicate key: the full parser reports it
        }
        let state = &mut *self.state;
        let ok = match state.table {
            Table::Root => assign_root(&mut state.file, &key, value),
            Table::Registry => match &mut state.current {
                Some(registry) => assign_registry(registry, &key, value),
                None => false,
            },
            Table::Mirror => match state.current.as_mut().and_then(|r| r.mirror.last_mut()) {
                Some(mirror) => assign_mirror(mirror, &key, value),
                None => false,
            },
            Table::Aliases => match value {
                Value::Scalar(Scalar::String(alias)) => {
                    state
                        .file
                        .aliases
                        .insert(key.into_owned(), alias.into_owned());
                    true
                }
                _ => false,
            },
            Table::V1Search | Table::V1Insecure | Table::V1Block => {
                let list = match state.table {
                    Table::V1Search => &mut state.file.registries.search,
                    Table::V1Insecure => &mut state.file.registries.insecure,
                    _ => &mut state.file.registries.block,
                };
                match (key.as_ref(), value) {
                    ("registries", value) => {
                        strings(value).map(|v| list.registries = Some(v)).is_some()
                    }
                    (_, _) => true,
                }
            }
        };
        if !ok {
            self.give_up();
        }
    }
}

fn string(value: Value<'_>) -> Option<String> {
    match value {
        Value::Scalar(Scalar::String(s)) => Some(s.into_owned()),
        _ => None,
    }
}

fn boolean(value: Value<'_>) -> Option<bool> {
    match value {
        Value::Scalar(Scalar::Boolean(b)) => Some(b),
        _ => None,
    }
}

fn strings(value: Value<'_>) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Scalar::String(s) => Some(s.into_owned()),
                _ => None,
            })
            .collect(),
        Value::Scalar(_) => None,
    }
}

/// Whether the value fit; unknown keys are ignored as the deserializer ignores them.
fn assign_root(file: &mut RawFile, key: &str, value: Value<'_>) -> bool {
    match key {
        "unqualified-search-registries" => strings(value)
            .map(|v| file.unqualified_search_registries = v)
            .is_some(),
        "credential-helpers" => strings(value)
            .map(|v| file._credential_helpers = v)
            .is_some(),
        "short-name-mode" => string(value).map(|v| file.short_name_mode = v).is_some(),
        "additional-layer-store-auth-helper" => string(value)
            .map(|v| file._additional_layer_store_auth_helper = v)
            .is_some(),
        // Names of tables: as plain keys they would clash with the tables, or mean something else.
        "registry" | "aliases" | "registries" => false,
        _ => true,
    }
}

fn assign_registry(registry: &mut RawRegistry, key: &str, value: Value<'_>) -> bool {
    match key {
        "prefix" => string(value).map(|v| registry.prefix = v).is_some(),
        "location" => string(value).map(|v| registry.location = v).is_some(),
        "pull-from-mirror" => string(value)
            .map(|v| registry.pull_from_mirror = v)
            .is_some(),
        "insecure" => boolean(value).map(|v| registry.insecure = v).is_some(),
        "blocked" => boolean(value).map(|v| registry.blocked = v).is_some(),
        "mirror-by-digest-only" => boolean(value)
            .map(|v| registry.mirror_by_digest_only = v)
            .is_some(),
        "mirror" => false,
        _ => true,
    }
}

fn assign_mirror(mirror: &mut RawMirror, key: &str, value: Value<'_>) -> bool {
    match key {
        "location" => string(value).map(|v| mirror.location = v).is_some(),
        "pull-from-mirror" => string(value).map(|v| mirror.pull_from_mirror = v).is_some(),
        "insecure" => boolean(value).map(|v| mirror._insecure = v).is_some(),
        _ => true,
    }
}

impl EventReceiver for Reader<'_, '_> {
    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header = Some(Vec::new());
    }

    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.open_table(false);
    }

    fn array_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header = Some(Vec::new());
    }

    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.open_table(true);
    }

    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.give_up();
        false
    }

    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        if self.array.is_some() {
            self.give_up(); // nested arrays
            return false;
        }
        self.array = Some(Vec::new());
        true
    }

    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        match self.array.take() {
            Some(items) => self.assign(Value::Array(items)),
            None => self.give_up(),
        }
    }

    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        let Some(key) = self.decode_key(span, encoding) else {
            return self.give_up();
        };
        match &mut self.header {
            Some(header) => header.push(key),
            None if self.key.is_none() => self.key = Some(key),
            None => self.give_up(),
        }
    }

    fn key_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.header.is_none() {
            self.give_up(); // a dotted key outside a header
        }
    }

    fn scalar(&mut self, span: Span, encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        let Some(scalar) = self.decode_scalar(span, encoding) else {
            return self.give_up();
        };
        match &mut self.array {
            Some(items) => items.push(scalar),
            None => self.assign(Value::Scalar(scalar)),
        }
    }

    fn error(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.give_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carriage_return_without_a_line_feed_is_left_to_the_deserializer() {
        // Found by the fuzz target in a run of blank lines, which the parser never sees.
        let text = "\r\r\r\r\r\r\r\r\n";
        assert!(read_whole(text.as_bytes()).is_none());
        assert!(toml::from_str::<RawFile>(text).is_err());
        assert!(read_whole(b"\r\n\r\nx = true\r\n").is_some());
    }

    #[test]
    fn integers_beyond_64_bits_floats_and_dates_are_left_to_the_deserializer() {
        // Found by the fuzz target: an integer beyond 64 bits under a key nothing reads was
        // accepted here and refused by the deserializer.
        let overflow = b"\nlocation =4444444444444444444444444444444444444444444444444444444444444";
        assert!(read_whole(overflow).is_none());
        assert!(toml::from_str::<RawFile>(std::str::from_utf8(overflow).unwrap()).is_err());
        assert!(read_whole(b"x = 1\nh = 0x7fffffffffffffff\n").is_some());
        assert!(read_whole(b"x = 9223372036854775808\n").is_none());
        assert!(read_whole(b"x = 1.5\n").is_none());
        assert!(read_whole(b"x = 1979-05-27\n").is_none());
    }

    fn full(text: &str) -> Option<RawFile> {
        toml::from_str(text).ok()
    }

    fn streamed(text: &str) -> Option<RawFile> {
        read_whole(text.as_bytes())
    }

    fn agrees(text: &str) -> bool {
        assert_agrees(text.as_bytes())
    }

    #[test]
    fn reads_every_fixture_it_accepts_exactly_as_the_deserializer() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test/data/registries/fixtures");
        let mut read_by_stream = Vec::new();
        for entry in walk(&dir) {
            let text = std::fs::read_to_string(&entry).unwrap();
            if agrees(&text) {
                read_by_stream.push(entry.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        read_by_stream.sort();
        for common in [
            "find-registry.conf",
            "mirrors.conf",
            "aliases.conf",
            "unqualified-search.conf",
            "config-2.conf",
        ] {
            assert!(
                read_by_stream.iter().any(|f| f == common),
                "{common} should take the fast path: {read_by_stream:?}"
            );
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path))
            } else {
                files.push(path)
            }
        }
        files
    }

    #[test]
    fn reads_the_usual_shapes() {
        for text in [
            "",
            "# only a comment\n",
            "unqualified-search-registries = ['a.io', \"b.io\"]\nshort-name-mode = 'enforcing'\n",
            "[[registry]]\nprefix = \"a\"\nlocation = 'b'  # trailing comment\ninsecure = true\n\
             [[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"digest-only\"\n\
             [[registry.mirror]]\nlocation = \"n\"\n[[registry]]\nlocation = \"c\"\nunknown = 5\n",
            "[aliases]\n\"quay/foo\" = \"quay.io/library/foo\"\nempty = \"\"\n",
            "[registries.search]\nregistries = []\n[registries.block]\nregistries = ['x']\n",
            "credential-helpers = [\n  \"a\",\n  \"b\",\n]\n[[registry]]\nlocation = \"x\"\n",
            "[[registry]]\r\nlocation = \"crlf\"\r\n",
            "  [[registry]]\n  location = \"indented\"\n",
        ] {
            assert!(agrees(text), "expected the stream reader to read:\n{text}");
        }
    }

    #[test]
    fn gives_up_on_everything_else() {
        for text in [
            "registry = [{location = \"inline\"}]\n",
            "[[registry]]\nmirror = [{location = \"m\"}]\n",
            "[[registry]]\nlocation.x = \"dotted\"\n",
            "[[registry]]\nlocation = \"a\"\nlocation = \"twice\"\n",
            "[aliases]\na = \"x\"\n[aliases]\nb = \"y\"\n",
            "[[registry]]\nlocation = 5\n",
            "[[registry]]\ninsecure = \"yes\"\n",
            "[[registry.mirror]]\nlocation = \"no registry yet\"\n",
            "[other]\nkey = 1\n",
            "[registries]\nx = 1\n",
            "unqualified-search-registries = [[\"nested\"]]\n",
            "[[registry]\nlocation = \"broken\"\n",
            "key = \"unterminated\n",
            "[aliases]\nx = 1\n",
            // Found by the fuzz target: a control character in a comment is not TOML.
            "# ugqualified-sear\0h-registrinot set\n",
            "[[registry]]\nlocation = \"a\" # \u{7f}\n",
        ] {
            assert!(
                streamed(text).is_none(),
                "expected the stream reader to give up on:\n{text}"
            );
        }
    }

    #[test]
    fn ten_thousand_entries_are_read_like_the_deserializer_reads_them() {
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&format!(
                "[[registry]]\nprefix = \"r{i}.io/team\"\nlocation = \"r{i}.io/team\"\n[[registry.mirror]]\nlocation = \"m{i}.io/team\"\n"
            ));
        }
        assert_eq!(streamed(&text), full(&text));
    }

    #[test]
    fn headers_inside_strings_and_arrays_are_not_headers() {
        for text in [
            "[[registry]]\nlocation = \"r\u{e9}gistre.example/\u{1f433}\"\n[[registry]]\nlocation = \"b\"\n",
            "[aliases]\n\"a\" = \"\"\"\n[[registry]]\nlocation = \"x\"\n\"\"\"\n[[registry]]\nlocation = \"y\"\n",
        ] {
            assert!(agrees(text), "expected the stream reader to read:\n{text}");
        }
        assert!(streamed("unqualified-search-registries = [\n\"a.io\",\n[\"b\"],\n]\n").is_none());
    }

    #[test]
    fn blank_lines_are_read_as_the_deserializer_reads_them() {
        for text in [
            "\n\n  \n\t\n[[registry]]\n\n\nlocation = \"a\"\n  \n\n",
            "credential-helpers = [\n\n  \"a\",\n\n\n  \"b\"\n\n]\n",
            "[[registry]]\r\n\r\n  \r\nlocation = \"crlf\"\r\n\r\n",
            "[[registry]]\nprefix = \"a\"\n\n  # comment\n\n  location = \"b\"\n",
        ] {
            assert!(
                agrees(text),
                "expected the stream reader to read:\n{text:?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_left_to_the_deserializer() {
        let mut text = b"[[registry]]\nlocation = \"".to_vec();
        text.extend([0xff, b'"', b'\n']);
        assert!(read(&text, &mut |_| {}).is_none());
    }
}
