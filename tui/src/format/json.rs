//! JSON output: compact for `--format json`, and the tab-indented form `lxc query` prints.

use std::fmt::Write as _;

use serde::Serialize;

/// One line of compact JSON and a newline, as `lxc ... --format json` prints.
pub fn line<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string(value)? + "\n")
}

/// Tab-indented JSON with object keys sorted, as Go prints a decoded document.
pub fn sorted_tabs(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_sorted(value, 0, &mut out);
    out.push('\n');
    out
}

fn write_sorted(value: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) if !map.is_empty() => {
            // Sorted here rather than trusting the map type, whose order depends on features.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(depth + 1, out);
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_sorted(&map[key.as_str()], depth + 1, out);
            }
            out.push('\n');
            indent(depth, out);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(depth + 1, out);
                write_sorted(item, depth + 1, out);
            }
            out.push('\n');
            indent(depth, out);
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// Tab-indents JSON text, keeping its key order (for `--raw`, which shows the body as sent).
pub fn reindent_tabs(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Empty containers stay as `{}` and `[]`.
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().unwrap_or_default());
                } else {
                    depth += 1;
                    out.push('\n');
                    indent(depth, &mut out);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                out.push('\n');
                indent(depth, &mut out);
                out.push(c);
            }
            ',' => {
                out.push_str(",\n");
                indent(depth, &mut out);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

fn indent(depth: usize, out: &mut String) {
    out.extend(std::iter::repeat_n('\t', depth));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/lxd/");

    #[test]
    fn sorted_tabs_matches_lxc_query_output() {
        for name in [
            "query_cluster.json",
            "query_cluster_members_recursion1.json",
        ] {
            let sample = std::fs::read_to_string(format!("{SAMPLES}{name}")).unwrap();
            let value: serde_json::Value = serde_json::from_str(&sample).unwrap();
            // lxc query ends its output with an empty line.
            assert_eq!(sorted_tabs(&value) + "\n", sample, "{name}");
        }
    }

    #[test]
    fn reindent_keeps_key_order_and_empty_containers() {
        let got = reindent_tabs(r#"{"b":1,"a":{},"c":["x,y",[]],"d":"q\"}"}"#);
        assert_eq!(
            got,
            "{\n\t\"b\": 1,\n\t\"a\": {},\n\t\"c\": [\n\t\t\"x,y\",\n\t\t[]\n\t],\n\t\"d\": \"q\\\"}\"\n}\n"
        );
    }
}
