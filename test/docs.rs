//! The documentation against the tree: every message the binary logs or fails with has an entry in
//! docs/troubleshooting.md, every relative link in README.md and docs/ resolves, and the README
//! stays short.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Fragments shorter than this say too little to be looked up ("checking {}", "reading {}").
const MIN_FRAGMENT_CHARS: usize = 12;

/// Fragments long enough but generic: each is the cause under a context that names what failed,
/// and that context has its own entry.
/// For such a message the longest literal run is checked instead (when it is long enough).
const GENERIC_FRAGMENTS: [&str; 3] = [
    // `authfile/dir.rs`: the subject of five different messages ("auth directory {} is owned by
    // uid ...", "... is writable by group or others ..."); what follows the path tells them apart.
    "auth directory",
    // `kube/client.rs`: the middle of "pod {:?} in namespace {} is not the pod the token was issued
    // for ..."; the text after the namespace is the message.
    "in namespace",
    // `duration.rs`: a context on parsing the fraction of a duration, whose digits were checked just
    // before; it cannot fail, and is shorter than the minimum anyway.
    "fraction",
];

#[test]
fn every_log_message_has_an_entry_in_troubleshooting() {
    let doc = collapse(&read(Path::new(ROOT).join("docs/troubleshooting.md")));
    let fragments = log_fragments();
    assert!(
        fragments.len() > 50,
        "only {} log messages found in src/: is the scanner broken?",
        fragments.len()
    );
    let missing: Vec<String> = fragments
        .iter()
        .filter(|f| !doc.contains(&collapse(&f.text)))
        .map(|f| format!("  {}:{}: {:?}", f.file, f.line, f.text))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} log messages have no entry in docs/troubleshooting.md:\n{}",
        missing.len(),
        fragments.len(),
        missing.join("\n")
    );
}

#[test]
fn the_scanner_finds_messages_of_every_shape() {
    let source = r#"
fn f() {
    info!(image, namespace, mirrors, "No pull secret in namespace {namespace} matches");
    warn!(namespace = client.namespace(), secret = name, "Skipping image pull secret {name}: gone");
    ensure!(kind == "CredentialProviderRequest", "unsupported kind {kind:?} on stdin");
    bail!("{} is not a JSON object", path.display());
    let e = anyhow!("{error:#}; {} needs a Role rule {{apiGroups: [\"\"]}}", who);
    x.context("reading the request from stdin")?;
    y.with_context(|| {
        format!("creating auth directory \
                 {}", path.display())
    })?;
    compile_error!("not a log message at all");
    debug!("nor is this one, at debug level");
}
#[cfg(test)]
/// A helper.
fn helper() {
    bail!("a test helper's message is not the binary's");
}

const AFTER: &str = "c";
fn g() { error!("writing the response to stdout: {e}"); }
#[cfg(test)]
mod tests {
    fn t() { bail!("nor is a test's"); }
}
"#;
    let found: Vec<(usize, String)> = messages_of("x.rs", source)
        .into_iter()
        .map(|f| (f.line, f.text))
        .collect();
    let expected = [
        (3, "No pull secret in namespace"),
        (4, "Skipping image pull secret"),
        (5, "unsupported kind"),
        (6, "is not a JSON object"),
        (7, "needs a Role rule {apiGroups: [\"\"]}"),
        (8, "reading the request from stdin"),
        (9, "creating auth directory"),
        (23, "writing the response to stdout:"),
    ];
    let expected: Vec<(usize, String)> = expected
        .iter()
        .map(|(line, text)| (*line, text.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn relative_links_in_the_docs_resolve() {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    pages.extend(markdown_files(&Path::new(ROOT).join("docs")));
    pages.push(Path::new(ROOT).join("packaging/openshift/README.md"));
    pages.push(Path::new(ROOT).join("test/openshift/README.md"));
    let mut broken = Vec::new();
    for page in &pages {
        let text = read(page);
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = match path {
                "" => page.clone(),
                path => page.parent().unwrap().join(path),
            };
            let name = page.strip_prefix(ROOT).unwrap().display();
            if !resolved.exists() {
                broken.push(format!("  {name}:{line}: {target}: no such file"));
            } else if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|e| e == "md")
                && !heading_anchors(&read(&resolved)).contains(anchor)
            {
                broken.push(format!("  {name}:{line}: {target}: no such heading"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The OpenShift admin's table in docs/operating.md: one column per release, every step a row,
/// every repository file it names exists, and every file of packaging/openshift/ that is applied
/// to a cluster is named in it.
#[test]
fn the_openshift_table_names_every_file_to_apply_and_each_exists() {
    let text = read(Path::new(ROOT).join("docs/operating.md"));
    let table: Vec<&str> = section(&text, "#### What to apply, per release and platform")
        .lines()
        .filter(|l| l.starts_with('|'))
        .collect();
    assert_eq!(table[0], "| step | 4.21 | 4.22 | 4.23 |");
    let mut named = BTreeSet::new();
    let mut steps = Vec::new();
    for row in &table[2..] {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 4, "{row}");
        assert!(cells.iter().all(|c| !c.trim().is_empty()), "{row}");
        let digits: String = cells[0]
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        steps.push(
            digits
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("no step number: {row}")),
        );
        for span in row.split('`').skip(1).step_by(2) {
            for word in span.split([' ', '=']) {
                if ["packaging/", "contrib/", "test/", "docs/"]
                    .iter()
                    .any(|p| word.starts_with(p))
                {
                    named.extend(expand_braces(word.trim_end_matches([',', ';', ':', ')'])));
                }
            }
        }
    }
    steps.dedup();
    assert_eq!(
        steps,
        (1..=steps.len()).collect::<Vec<_>>(),
        "the steps in order"
    );
    let missing: Vec<&String> = named
        .iter()
        .filter(|f| !Path::new(ROOT).join(f).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "the table names files that do not exist: {missing:?}"
    );
    let mut to_apply = vec!["packaging/openshift/Containerfile".to_string()];
    for entry in std::fs::read_dir(Path::new(ROOT).join("packaging/openshift")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") {
            to_apply.push(format!("packaging/openshift/{name}"));
        }
    }
    let absent: Vec<&String> = to_apply.iter().filter(|f| !named.contains(*f)).collect();
    assert!(absent.is_empty(), "not in the table: {absent:?}");
}

/// Each release's CRI-O line names its source: the release branch of openshift/os and its file.
#[test]
fn each_release_names_its_cri_o_and_its_source() {
    let text = read(Path::new(ROOT).join("docs/operating.md"));
    let crio = section(&text, "#### CRI-O per release");
    assert!(
        crio.contains("v1.34.3"),
        "where prepareTempAuthFile first appears"
    );
    for release in ["4.21", "4.22", "4.23"] {
        let line = crio
            .split("\n- ")
            .find(|item| item.starts_with(&format!("**{release}**")))
            .unwrap_or_else(|| panic!("no CRI-O line for {release}"));
        for source in [
            format!("openshift/os release-{release}"),
            "packages-openshift.yaml".into(),
        ] {
            assert!(line.contains(&source), "{release}: {source}: {line}");
        }
    }
    let techpreview = section(&text, "#### TechPreviewNoUpgrade on 4.22");
    assert!(techpreview.contains("CANNOT BE UNDONE and PREVENTS UPGRADES"));
    assert!(techpreview.contains("config/v1/types_feature.go"));
}

/// From `heading` to the next heading of any level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?}"))
        + heading.len()
        + 2;
    let end = text[start..].find("\n#").map_or(text.len(), |i| start + i);
    &text[start..end]
}

/// `a-{b,c}-{d,e}` as the shell expands it: `a-b-d`, `a-b-e`, `a-c-d`, `a-c-e`.
fn expand_braces(word: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (word.find('{'), word.find('}')) else {
        return vec![word.to_string()];
    };
    word[open + 1..close]
        .split(',')
        .flat_map(|choice| {
            expand_braces(&format!("{}{choice}{}", &word[..open], &word[close + 1..]))
        })
        .collect()
}

#[test]
fn braces_expand_as_the_shell_expands_them() {
    assert_eq!(expand_braces("a"), ["a"]);
    assert_eq!(
        expand_braces("99-{worker,master}-x-{aws,gcp}.yaml"),
        [
            "99-worker-x-aws.yaml",
            "99-worker-x-gcp.yaml",
            "99-master-x-aws.yaml",
            "99-master-x-gcp.yaml"
        ]
    );
}

#[test]
fn the_readme_is_one_short_page() {
    let lines = read(Path::new(ROOT).join("README.md")).lines().count();
    assert!(
        lines <= 160,
        "README.md has {lines} lines; details belong in docs/"
    );
}

// --- The source scanner -------------------------------------------------------------------------

#[derive(Debug)]
struct Fragment {
    file: String,
    line: usize,
    text: String,
}

/// The message fragments of every `src/**/*.rs`, outside `#[cfg(test)]` code.
fn log_fragments() -> Vec<Fragment> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let name = path.strip_prefix(ROOT).unwrap().display().to_string();
            messages_of(&name, &read(path))
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The fragments of one file: for each message, its first run of literal text between format
/// placeholders that is long enough to look up (normally the text up to the first `{`).
fn messages_of(file: &str, source: &str) -> Vec<Fragment> {
    let source = without_test_code(source);
    let tokens = tokenize(&source);
    let mut fragments = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Some((kind, open)) = invocation(&tokens, i) else {
            continue;
        };
        let Some((literal, format)) = message(&tokens, kind, open) else {
            continue;
        };
        let Some(text) = fragment(&literal, format) else {
            continue;
        };
        let line = source[..token.offset].matches('\n').count() + 1;
        fragments.push(Fragment {
            file: file.to_string(),
            line,
            text,
        });
    }
    fragments
}

/// The source with `#[cfg(test)]` items blanked out (lines kept, so line numbers stay): a
/// `#[cfg(test)] mod` takes the rest of the file; any other `#[cfg(test)]` item ends where its
/// braces close, or at a `;` outside braces.
fn without_test_code(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut kept = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            kept.push(lines[i]);
            i += 1;
            continue;
        }
        let item = lines[i + 1..]
            .iter()
            .map(|line| line.trim())
            .find(|line| !line.starts_with("#[") && !line.starts_with("//"))
            .unwrap_or("");
        if item.starts_with("mod ") || item.starts_with("pub mod ") {
            break;
        }
        let mut depth = 0i32;
        let mut opened = false;
        while i < lines.len() {
            let line = lines[i];
            kept.push("");
            i += 1;
            if line.trim().starts_with("//") {
                continue;
            }
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            opened |= line.contains('{');
            if (opened && depth <= 0) || (!opened && line.trim_end().ends_with(';')) {
                break;
            }
        }
    }
    kept.join("\n")
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident(String),
    /// A string literal's value, as Rust reads it.
    Str(String),
    Punct(char),
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    offset: usize,
}

/// Enough of Rust's lexer for macro arguments: identifiers, string literals (with escapes,
/// line continuations, raw and byte strings), char literals and lifetimes, comments, punctuation.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let offset = chars[i].0;
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == Some('/') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            i += 2;
            while at(i).is_some() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            let (value, next) = cooked_string(&chars, i + 1);
            tokens.push(Token {
                kind: Kind::Str(value),
                offset,
            });
            i = next;
        } else if (c == 'r' || c == 'b')
            && let Some((value, next)) = prefixed_string(&chars, i)
        {
            tokens.push(Token {
                kind: Kind::Str(value),
                offset,
            });
            i = next;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1b}') or a lifetime ('a): only the first is skipped whole.
            if at(i + 1) == Some('\\') {
                i += 2;
                while at(i).is_some_and(|c| c != '\'') {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == Some('\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().map(|&(_, c)| c).collect();
            tokens.push(Token {
                kind: Kind::Ident(word),
                offset,
            });
        } else {
            tokens.push(Token {
                kind: Kind::Punct(c),
                offset,
            });
            i += 1;
        }
    }
    tokens
}

/// A `"..."` literal's value from just after its opening quote; returns it and where it ends.
fn cooked_string(chars: &[(usize, char)], mut i: usize) -> (String, usize) {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut value = String::new();
    while let Some(c) = at(i) {
        i += 1;
        match c {
            '"' => break,
            '\\' => {
                let escaped = at(i);
                i += 1;
                match escaped {
                    // A line continuation: the newline and the next line's leading white space go.
                    Some('\n') => {
                        while at(i).is_some_and(char::is_whitespace) {
                            i += 1;
                        }
                    }
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some('0') => value.push('\0'),
                    Some('u') => {
                        let mut hex = String::new();
                        while at(i).is_some_and(|c| c != '}') {
                            hex.extend(at(i).filter(char::is_ascii_hexdigit));
                            i += 1;
                        }
                        i += 1;
                        value.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                    }
                    Some('x') => {
                        let hex: String = (i..i + 2).filter_map(at).collect();
                        i += 2;
                        value.extend(u8::from_str_radix(&hex, 16).ok().map(char::from));
                    }
                    Some(other) => value.push(other),
                    None => {}
                }
            }
            c => value.push(c),
        }
    }
    (value, i)
}

/// `r"..."`, `r#"..."#`, `b"..."`, `br"..."`: `None` when `r`/`b` start an identifier instead.
fn prefixed_string(chars: &[(usize, char)], start: usize) -> Option<(String, usize)> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    if start > 0 && at(start - 1).is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let mut i = start;
    if at(i) == Some('b') {
        i += 1;
        if at(i) == Some('"') {
            return Some(cooked_string(chars, i + 1));
        }
    }
    if at(i) != Some('r') {
        return None;
    }
    i += 1;
    let hashes = (i..).take_while(|&j| at(j) == Some('#')).count();
    i += hashes;
    if at(i) != Some('"') {
        return None;
    }
    i += 1;
    let body = i;
    loop {
        let c = at(i)?;
        if c == '"' && (1..=hashes).all(|k| at(i + k) == Some('#')) {
            let value = chars[body..i].iter().map(|&(_, c)| c).collect();
            return Some((value, i + 1 + hashes));
        }
        i += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Invocation {
    /// `error!`, `warn!`, `info!`: leading `key = value` fields, then the format string.
    Tracing,
    /// `bail!`, `anyhow!`: the format string first.
    Format,
    /// `ensure!`: a condition, then the format string.
    Ensure,
    /// `.context(...)`: a plain string (not a format string) or a `format!`.
    Context,
    /// `.with_context(...)`: the first literal of the closure, a `format!`.
    WithContext,
}

/// Whether token `i` starts an invocation the scanner reads; returns its kind and the index of
/// its opening parenthesis.
fn invocation(tokens: &[Token], i: usize) -> Option<(Invocation, usize)> {
    let punct = |j: usize, c: char| tokens.get(j).is_some_and(|t| t.kind == Kind::Punct(c));
    let Kind::Ident(name) = &tokens[i].kind else {
        return None;
    };
    let kind = match name.as_str() {
        "error" | "warn" | "info" => Invocation::Tracing,
        "bail" | "anyhow" => Invocation::Format,
        "ensure" => Invocation::Ensure,
        "context" if i > 0 && punct(i - 1, '.') => Invocation::Context,
        "with_context" if i > 0 && punct(i - 1, '.') => Invocation::WithContext,
        _ => return None,
    };
    match kind {
        Invocation::Context | Invocation::WithContext => punct(i + 1, '(').then_some((kind, i + 1)),
        _ => (punct(i + 1, '!') && punct(i + 2, '(')).then_some((kind, i + 2)),
    }
}

/// The message literal of the invocation whose `(` is at `open`, and whether it is a format string.
fn message(tokens: &[Token], kind: Invocation, open: usize) -> Option<(String, bool)> {
    let mut depth = 0;
    let mut argument = 0;
    for j in open + 1..tokens.len() {
        match &tokens[j].kind {
            Kind::Punct('(' | '[' | '{') => depth += 1,
            Kind::Punct(')' | ']' | '}') if depth == 0 => return None,
            Kind::Punct(')' | ']' | '}') => depth -= 1,
            Kind::Punct(',') if depth == 0 => argument += 1,
            Kind::Str(value) => {
                let previous = &tokens[j - 1].kind;
                let wanted = match kind {
                    Invocation::Tracing => depth == 0 && *previous != Kind::Punct('='),
                    Invocation::Format => true,
                    Invocation::Ensure => argument >= 1,
                    Invocation::Context => {
                        if j == open + 1 {
                            return Some((value.clone(), false));
                        }
                        is_format_macro(tokens, j)
                    }
                    Invocation::WithContext => true,
                };
                if wanted {
                    return Some((value.clone(), true));
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether the literal at `j` is the first argument of `format!(`.
fn is_format_macro(tokens: &[Token], j: usize) -> bool {
    j >= 3
        && tokens[j - 1].kind == Kind::Punct('(')
        && tokens[j - 2].kind == Kind::Punct('!')
        && tokens[j - 3].kind == Kind::Ident("format".into())
}

/// The literal text up to the first format placeholder, trimmed; when that is shorter than
/// `MIN_FRAGMENT_CHARS` or generic, the longest literal run between placeholders, if long enough.
/// `{{` and `}}` are literal braces. A plain string (`.context("...")`) is one run.
fn fragment(literal: &str, format: bool) -> Option<String> {
    let mut runs = vec![String::new()];
    if format {
        let mut chars = literal.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    runs.last_mut().unwrap().push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    runs.last_mut().unwrap().push('}');
                }
                '{' => {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                    runs.push(String::new());
                }
                c => runs.last_mut().unwrap().push(c),
            }
        }
    } else {
        runs[0] = literal.to_string();
    }
    let usable = |run: &String| {
        run.chars().count() >= MIN_FRAGMENT_CHARS && !GENERIC_FRAGMENTS.contains(&run.as_str())
    };
    let runs: Vec<String> = runs.iter().map(|run| collapse(run.trim())).collect();
    if usable(&runs[0]) {
        return Some(runs[0].clone());
    }
    runs.into_iter()
        .filter(usable)
        .max_by_key(|run| run.chars().count())
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// --- Markdown -----------------------------------------------------------------------------------

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// The targets of the inline links `[text](target)` of a page, with their line numbers; code
/// blocks and code spans are left out.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut fenced = false;
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") && !line.trim_start().starts_with(['-', '|']) {
            continue;
        }
        let outside_code: String = line
            .split('`')
            .enumerate()
            .map(|(i, part)| if i % 2 == 0 { part } else { "" })
            .collect();
        let mut rest = outside_code.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            found.push((number + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    found
}

/// The anchors of a page's headings, as GitHub makes them.
fn heading_anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut anchors = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        let heading = heading.trim_start_matches('#').trim();
        let anchor: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        anchors.insert(anchor);
    }
    anchors
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_layout_in_the_development_guide_names_every_source_file() {
    let guide = read(Path::new(ROOT).join("docs/development.md"));
    let layout = &guide[guide.find("## Layout").expect("a Layout section")..];
    let mut missing = Vec::new();
    let mut sources = vec![PathBuf::from(ROOT).join("src")];
    while let Some(dir) = sources.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap();
            let relative = path
                .strip_prefix(ROOT)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            // A folder's files are listed under the folder by name alone.
            let parent = path.parent().unwrap().strip_prefix(ROOT).unwrap();
            let named = layout.contains(&relative)
                || (parent != Path::new("src")
                    && layout.contains(&format!("{}/", parent.display()))
                    && layout.contains(name));
            if !named {
                missing.push(relative);
            }
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "docs/development.md's Layout does not name {missing:?}"
    );
}
