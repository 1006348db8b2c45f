//! Finds where a path (`cluster.server_name`, `storage_pools[1].name`) sits in YAML text,
//! so semantic errors, which serde cannot place, still get a line and column.
//!
//! A deliberately small reader of block-style YAML: indentation, `key:` entries (plain or
//! quoted keys), `- ` sequence items, comments, block scalars (`|`, `>`) and quoted scalars
//! spanning lines. Flow style (`{...}`, `[...]`), anchors and complex keys are not followed:
//! the answer is then `None`.

use corral_shared::preseed::PathSegment;

/// A 1-based line and column in the text.
pub type Position = (usize, usize);

/// What starts at a byte offset of a line.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A `- ` sequence entry marker.
    Dash(usize),
    /// A mapping key; `inline` says whether a value (scalar or flow collection, neither of
    /// which is followed further) is on the same line.
    Key {
        at: usize,
        name: String,
        inline: bool,
    },
    /// Any other value.
    Scalar(usize),
}

impl Token {
    fn at(&self) -> usize {
        match self {
            Token::Dash(at) | Token::Key { at, .. } | Token::Scalar(at) => *at,
        }
    }
}

/// One line that carries structure (not blank, comment, or inside a multi-line scalar).
#[derive(Debug)]
struct Line<'a> {
    /// 0-based line number in the text.
    number: usize,
    text: &'a str,
    indent: usize,
    tokens: Vec<Token>,
}

impl Line<'_> {
    fn key_at(&self, at: usize) -> Option<&Token> {
        self.tokens
            .iter()
            .find(|t| matches!(t, Token::Key { at: a, .. } if *a == at))
    }

    fn starts_with_dash_at(&self, at: usize) -> bool {
        self.tokens.first() == Some(&Token::Dash(at))
    }

    fn position(&self, at: usize) -> Position {
        (self.number + 1, self.text[..at].chars().count() + 1)
    }
}

/// Where the key (or list item) at the end of `path` is written; `None` if it is not found.
pub fn locate(text: &str, path: &[PathSegment]) -> Option<Position> {
    walk(text, path, 0)
}

/// Where the key at the end of `path` is written a second time (for "given twice" errors).
pub fn locate_repeat(text: &str, path: &[PathSegment]) -> Option<Position> {
    walk(text, path, 1)
}

/// Follows `path`, taking the final key's `skip`-th further occurrence.
fn walk(text: &str, path: &[PathSegment], skip: usize) -> Option<Position> {
    let lines = structural_lines(text);
    let first = lines.first()?;
    let (mut li, mut at) = (0, first.indent);
    let mut found: Option<(usize, usize)> = None;
    for (n, seg) in path.iter().enumerate() {
        if let Some(prev) = found {
            // A list item's position is already its content; a key's value follows the key.
            (li, at) = match path[n - 1] {
                PathSegment::Index(_) => prev,
                PathSegment::Key(_) => value_of(&lines, prev)?,
            };
        }
        let last = n + 1 == path.len();
        found = Some(match seg {
            PathSegment::Key(key) => find_key(&lines, li, at, key, if last { skip } else { 0 })?,
            PathSegment::Index(i) => find_item(&lines, li, at, *i)?,
        });
    }
    let (li, at) = found?;
    Some(lines[li].position(at))
}

/// Like [`locate`], but falls back to the deepest enclosing key that exists (a missing key is
/// best reported where it should have been written).
pub fn locate_nearest(text: &str, path: &[PathSegment]) -> Option<Position> {
    (1..=path.len())
        .rev()
        .find_map(|len| locate(text, &path[..len]))
}

/// The entry `key` of the mapping whose first key is at (`li`, `at`), after skipping `skip`
/// earlier entries of the same name.
fn find_key(
    lines: &[Line],
    li: usize,
    at: usize,
    key: &str,
    mut skip: usize,
) -> Option<(usize, usize)> {
    for (j, line) in lines.iter().enumerate().skip(li) {
        if j > li {
            if line.indent < at {
                break;
            }
            // Deeper lines belong to values; a `- ` at this indentation is a sequence
            // written under the previous key without extra indentation.
            if line.indent > at || line.starts_with_dash_at(at) {
                continue;
            }
        }
        match line.key_at(at) {
            Some(Token::Key { name, .. }) if name == key && skip == 0 => return Some((j, at)),
            Some(Token::Key { name, .. }) if name == key => skip -= 1,
            Some(_) => {}
            None => break,
        }
    }
    None
}

/// Item `index` of the sequence whose first `- ` is at (`li`, `at`); the position of what
/// the item holds.
fn find_item(lines: &[Line], li: usize, at: usize, index: usize) -> Option<(usize, usize)> {
    let mut count = 0;
    for (j, line) in lines.iter().enumerate().skip(li) {
        if j > li && line.indent > at {
            continue;
        }
        let dash = line.tokens.iter().position(|t| *t == Token::Dash(at));
        let Some(dash) = dash.filter(|_| j == li || line.indent == at) else {
            break;
        };
        if count == index {
            return match line.tokens.get(dash + 1) {
                Some(t) => Some((j, t.at())),
                None => {
                    let next = lines.get(j + 1).filter(|n| n.indent > at)?;
                    Some((j + 1, next.indent))
                }
            };
        }
        count += 1;
    }
    None
}

/// Where the value of the key found at (`li`, `at`) starts, if it is a block collection.
fn value_of(lines: &[Line], (li, at): (usize, usize)) -> Option<(usize, usize)> {
    match lines[li].key_at(at)? {
        Token::Key { inline: false, .. } => {
            let next = lines.get(li + 1)?;
            (next.indent > at || next.starts_with_dash_at(at)).then_some((li + 1, next.indent))
        }
        _ => None,
    }
}

/// The lines that carry structure, with block and multi-line quoted scalars skipped.
fn structural_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    // While in a block scalar: its owner's indentation (deeper lines are its content).
    let mut block_owner: Option<usize> = None;
    // While in a quoted scalar spanning lines: its quote character.
    let mut open_quote: Option<char> = None;
    for (number, text) in text.lines().enumerate() {
        if let Some(q) = open_quote {
            if closing_quote(text, 0, q).is_some() {
                open_quote = None;
            }
            continue;
        }
        let indent = text.len() - text.trim_start_matches(' ').len();
        let rest = &text[indent..];
        if let Some(owner) = block_owner {
            if rest.trim().is_empty() || indent > owner {
                continue;
            }
            block_owner = None;
        }
        if rest.trim().is_empty() || rest.starts_with('#') || is_document_marker(text) {
            continue;
        }
        let tokens = tokenize(text, indent);
        if let Some((owner, value_at)) = value_start(&tokens, text) {
            let value = &text[value_at..];
            if value.starts_with('|') || value.starts_with('>') {
                block_owner = Some(owner);
            } else if let Some(q) = value.chars().next().filter(|c| matches!(c, '"' | '\''))
                && closing_quote(text, value_at + 1, q).is_none()
            {
                open_quote = Some(q);
            }
        }
        out.push(Line {
            number,
            text,
            indent,
            tokens,
        });
    }
    out
}

fn is_document_marker(line: &str) -> bool {
    line.starts_with('%')
        || ["---", "..."].iter().any(|m| {
            line.strip_prefix(m)
                .is_some_and(|r| r.is_empty() || r.starts_with(' '))
        })
}

/// For the scalar value on this line (if any): the column of what owns it and where it starts.
fn value_start(tokens: &[Token], text: &str) -> Option<(usize, usize)> {
    match tokens.last()? {
        Token::Key {
            at, inline: true, ..
        } => {
            let colon = key_end(text, *at)?;
            let value_at =
                colon + 1 + (text[colon + 1..].len() - text[colon + 1..].trim_start().len());
            Some((*at, value_at))
        }
        Token::Scalar(at) => {
            let owner = match tokens.len() {
                1 => *at,
                n => tokens[n - 2].at(),
            };
            Some((owner, *at))
        }
        _ => None,
    }
}

/// Splits a line into dashes, then a key or a scalar.
fn tokenize(text: &str, indent: usize) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut at = indent;
    loop {
        let rest = &text[at..];
        if rest == "-" || rest.starts_with("- ") {
            tokens.push(Token::Dash(at));
            let after = &rest[1..];
            at += 1 + (after.len() - after.trim_start_matches(' ').len());
            if at >= text.len() || text[at..].starts_with('#') {
                return tokens;
            }
            continue;
        }
        match key_end(text, at) {
            Some(colon) => {
                let value = strip_comment(text[colon + 1..].trim());
                tokens.push(Token::Key {
                    at,
                    name: key_name(&text[at..colon]),
                    inline: !value.is_empty(),
                });
            }
            None => tokens.push(Token::Scalar(at)),
        }
        return tokens;
    }
}

/// The byte offset of the `:` ending a key that starts at `at`, if the text there is a key.
fn key_end(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at..];
    let is_colon_at = |i: usize| {
        rest[i..].starts_with(':') && (rest.len() == i + 1 || rest[i + 1..].starts_with(' '))
    };
    let search_from = match rest.chars().next()? {
        q @ ('"' | '\'') => closing_quote(text, at + 1, q)? + 1 - at,
        '{' | '[' | '?' | '#' | '&' | '*' | '!' | '|' | '>' => return None,
        _ => 0,
    };
    let after = &rest[search_from..];
    let end = after
        .char_indices()
        .map(|(i, _)| i + search_from)
        .take_while(|&i| !rest[i..].starts_with(" #"))
        .find(|&i| is_colon_at(i))?;
    // A quoted key must be followed directly (or after spaces) by its colon.
    if search_from > 0 && !rest[search_from..end].trim().is_empty() {
        return None;
    }
    Some(at + end)
}

/// A key's name: unquoted, with the escapes this reader understands undone.
fn key_name(raw: &str) -> String {
    let raw = raw.trim_end();
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        raw.to_string()
    }
}

/// The byte offset of the quote closing a scalar whose content starts at `from`.
fn closing_quote(text: &str, from: usize, quote: char) -> Option<usize> {
    let mut chars = text[from..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            '\'' if quote == '\'' && chars.peek().map(|p| p.1) == Some('\'') => {
                chars.next();
            }
            c if c == quote => return Some(from + i),
            _ => {}
        }
    }
    None
}

fn strip_comment(value: &str) -> &str {
    if value.starts_with('#') {
        return "";
    }
    value.split(" #").next().unwrap_or(value).trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(segs: &[&str]) -> Vec<PathSegment> {
        segs.iter()
            .map(|s| match s.parse() {
                Ok(i) => PathSegment::Index(i),
                Err(_) => PathSegment::Key(s.to_string()),
            })
            .collect()
    }

    const DOC: &str = "\
# comment
config:
  core.https_address: 10.0.0.1:8443   # trailing comment
  \"quoted.key\": x
  'single''s': y
storage_pools:
- name: default
  driver: dir
- name: second
  description: |
    name: not a key
    driver: nor this
  driver: zfs
networks:
  - name: br0
    config:
      ipv4.address: auto
profiles:
- name: default
  devices:
    root:
      type: disk
cluster:
  cluster_certificate: \"-----BEGIN CERTIFICATE-----

server_name: fake
  -----END CERTIFICATE-----\"
  server_name: node1
  member_config:
  -
    entity: storage-pool
  - {entity: network}
flow: {a: 1}
";

    #[test]
    fn finds_keys_and_items() {
        for (path, want) in [
            (&["config"][..], Some((2, 1))),
            (&["config", "core.https_address"], Some((3, 3))),
            (&["config", "quoted.key"], Some((4, 3))),
            (&["config", "single's"], Some((5, 3))),
            (&["storage_pools"], Some((6, 1))),
            (&["storage_pools", "0"], Some((7, 3))),
            (&["storage_pools", "0", "name"], Some((7, 3))),
            (&["storage_pools", "0", "driver"], Some((8, 3))),
            (&["storage_pools", "1", "name"], Some((9, 3))),
            (&["storage_pools", "1", "driver"], Some((13, 3))),
            (&["networks", "0", "name"], Some((15, 5))),
            (&["networks", "0", "config", "ipv4.address"], Some((17, 7))),
            (&["profiles", "0", "devices", "root", "type"], Some((22, 7))),
            (&["cluster", "server_name"], Some((28, 3))),
            (&["cluster", "member_config", "0", "entity"], Some((31, 5))),
            (&["flow"], Some((33, 1))),
        ] {
            assert_eq!(locate(DOC, &p(path)), want, "{path:?}");
        }
    }

    #[test]
    fn misses_what_is_absent_or_in_flow_style() {
        for path in [
            &["nope"][..],
            &["config", "nope"],
            &["storage_pools", "2"],
            &["storage_pools", "0", "config"],
            &["storage_pools", "1", "description", "driver"],
            &["cluster", "member_config", "1", "entity"],
            &["flow", "a"],
            &["server_name"],
        ] {
            assert_eq!(locate(DOC, &p(path)), None, "{path:?}");
        }
        assert_eq!(locate("", &p(&["config"])), None);
        assert_eq!(locate("{config: {}}", &p(&["config"])), None);
    }

    #[test]
    fn finds_a_repeated_key() {
        let doc = "config:\n  a: 1\n  b: 2\n  a: 3\n";
        assert_eq!(locate_repeat(doc, &p(&["config", "a"])), Some((4, 3)));
        assert_eq!(locate_repeat(doc, &p(&["config", "b"])), None);
    }

    #[test]
    fn nearest_falls_back_to_the_enclosing_key() {
        assert_eq!(
            locate_nearest(DOC, &p(&["cluster", "server_address"])),
            Some((23, 1))
        );
        assert_eq!(locate_nearest(DOC, &p(&["flow", "a"])), Some((33, 1)));
        assert_eq!(locate_nearest(DOC, &p(&["nope", "a"])), None);
    }
}
