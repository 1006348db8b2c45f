//! YAML laid out as Go's yaml.v2 writes it, which is what `lxc` prints: block style,
//! sequences inside mappings not indented, `""` for empty strings, and double quotes
//! for strings that would otherwise read as another type.
//!
//! libyaml (behind serde_yaml) quotes differently (`''`), so serde only builds the
//! document tree here and this module lays it out.

use serde::Serialize;
use serde_yaml::{Mapping, Value};

/// The value as a YAML document, ending in a newline.
pub fn document<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_yaml::Error> {
    let tree = serde_yaml::to_value(value)?;
    let mut out = String::new();
    match untag(&tree) {
        Value::Mapping(map) if !map.is_empty() => write_map(map, 0, false, &mut out),
        Value::Sequence(seq) if !seq.is_empty() => write_seq(seq, 0, false, &mut out),
        other => {
            write_inline(other, 0, &mut out);
            out.push('\n');
        }
    }
    Ok(out)
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untag(&tagged.value),
        other => other,
    }
}

/// A mapping's entries at `indent`; the first skips its indent when it follows a `- `.
fn write_map(map: &Mapping, indent: usize, inline_first: bool, out: &mut String) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            out.push_str(&" ".repeat(indent));
        }
        write_inline(untag(key), indent, out);
        out.push(':');
        match untag(value) {
            Value::Mapping(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(inner, indent + 2, false, out);
            }
            // yaml.v2 puts a mapping's sequence at the key's own indent.
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(inner, indent, false, out);
            }
            scalar => {
                out.push(' ');
                write_inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

fn write_seq(seq: &[Value], indent: usize, inline_first: bool, out: &mut String) {
    for (i, item) in seq.iter().enumerate() {
        if i > 0 || !inline_first {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match untag(item) {
            Value::Mapping(inner) if !inner.is_empty() => write_map(inner, indent + 2, true, out),
            Value::Sequence(inner) if !inner.is_empty() => write_seq(inner, indent + 2, true, out),
            scalar => {
                write_inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

/// A value that fits after `key: ` or `- `; multi-line strings continue at `indent`.
fn write_inline(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, indent, out),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Mapping(_) => out.push_str("{}"),
        Value::Tagged(tagged) => write_inline(&tagged.value, indent, out),
    }
}

fn write_string(s: &str, indent: usize, out: &mut String) {
    if s.contains('\n') {
        // Literal block: `|-` drops the final line break, `|` keeps exactly one.
        let (body, chomp) = match s.strip_suffix('\n') {
            Some(body) if !body.ends_with('\n') => (body, "|"),
            _ => (s, "|-"),
        };
        out.push_str(chomp);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&" ".repeat(indent));
                out.push_str(line);
            }
        }
    } else if reads_as_other_type(s) || s.chars().any(|c| c.is_control()) {
        out.push_str(&serde_json::Value::String(s.to_string()).to_string());
    } else if plain_allowed(s) {
        out.push_str(s);
    } else {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    }
}

/// Whether YAML would read this plain text as null, a bool, a number or a timestamp.
fn reads_as_other_type(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan",
        ".NaN", ".NAN",
    ];
    WORDS.contains(&s) || is_number(s) || is_sexagesimal(s) || is_timestamp(s)
}

fn is_number(s: &str) -> bool {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let plain = unsigned.replace('_', "");
    let radix = |prefix: &str, radix: u32| {
        plain
            .strip_prefix(prefix)
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_digit(radix)))
    };
    let decimal = !plain.is_empty() && plain.chars().all(|c| c.is_ascii_digit());
    let float = unsigned
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || "._eE+-".contains(c))
        && unsigned.parse::<f64>().is_ok();
    decimal || float || radix("0x", 16) || radix("0b", 2) || radix("0o", 8)
}

/// YAML 1.1 base-60 numbers such as `1:20`, which yaml.v2 quotes.
fn is_sexagesimal(s: &str) -> bool {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (whole, _fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut parts = whole.split(':');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && first.starts_with(|c: char| c.is_ascii_digit())
        && first.chars().all(|c| c.is_ascii_digit() || c == '_')
        && rest.iter().all(|p| {
            (1..=2).contains(&p.len())
                && p.chars().all(|c| c.is_ascii_digit())
                && p.parse::<u8>().is_ok_and(|n| n < 60)
        })
}

/// Dates (`2026-11-23`) and date-times, which YAML reads as timestamps.
fn is_timestamp(s: &str) -> bool {
    let date_end = s.find(['T', 't', ' ']).unwrap_or(s.len());
    let fields: Vec<&str> = s[..date_end].split('-').collect();
    let is_date = fields.len() == 3
        && fields[0].len() == 4
        && fields
            .iter()
            .all(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()))
        && fields[1].len() <= 2
        && fields[2].len() <= 2;
    is_date && (date_end == s.len() || s[date_end..].contains(':'))
}

/// Whether the text can be written bare in block context without changing its meaning.
fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    let lone_indicator = matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' ');
    !(s.starts_with(' ')
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.starts_with("---")
        || s.starts_with("...")
        || "#,[]{}&*!|>'\"%@`".contains(first)
        || lone_indicator
        || s.contains(": ")
        || s.contains(" #"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn strings_are_quoted_as_yaml_v2_quotes_them() {
        let cases = [
            ("", "\"\""),
            ("true", "\"true\""),
            ("4", "\"4\""),
            ("1.5", "\"1.5\""),
            ("10:30", "\"10:30\""),
            ("2026-11-23", "\"2026-11-23\""),
            ("127.0.0.11:8443", "127.0.0.11:8443"),
            ("https://127.0.0.11:8443", "https://127.0.0.11:8443"),
            ("Fully operational", "Fully operational"),
            ("- x", "'- x'"),
            ("a: b", "'a: b'"),
            ("it's: x", "'it''s: x'"),
            ("-x", "-x"),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            write_string(input, 0, &mut out);
            assert_eq!(out, expected, "{input:?}");
        }
    }

    #[test]
    fn nested_layout_follows_yaml_v2() {
        let mut inner = BTreeMap::new();
        inner.insert("k", vec!["a", "b"]);
        let doc = vec![inner];
        assert_eq!(document(&doc).unwrap(), "- k:\n  - a\n  - b\n");
        let empty: BTreeMap<String, String> = BTreeMap::new();
        let mut outer = BTreeMap::new();
        outer.insert("config", empty);
        assert_eq!(document(&outer).unwrap(), "config: {}\n");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let mut m = BTreeMap::new();
        m.insert("text", "one\ntwo\n");
        assert_eq!(document(&m).unwrap(), "text: |\n  one\n  two\n");
    }
}
