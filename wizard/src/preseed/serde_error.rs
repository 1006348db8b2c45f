//! Turns a `serde_yaml` error (syntax, wrong type, unknown key) into a [`PreseedError`]:
//! location from the error, the key path split off its text, and a plainer message.

use corral_shared::preseed::PathSegment;

use super::PreseedError;
use super::locate::locate_repeat;

/// Messages serde writes without a path in front; anything else starts with `path: `.
const SERDE_PHRASES: &[&str] = &[
    "unknown field",
    "invalid type",
    "invalid value",
    "invalid length",
    "missing field",
    "duplicate field",
    "duplicate key",
    "unknown variant",
];

/// Converts the error, taking the position from the error itself, except for a key given
/// twice, which serde places at the start of its mapping: that is found in `yaml` instead.
pub(super) fn convert(err: &serde_yaml::Error, yaml: &str) -> PreseedError {
    let location = err.location().map(|l| (l.line(), l.column()));
    let text = strip_locations(&err.to_string());
    let (path, message) = split_path(&text);
    let repeated = message.starts_with("duplicate ");
    let (key, message) = describe(path, message);
    let location = match repeated {
        true => locate_repeat(yaml, &parse_path(path, &key)).or(location),
        false => location,
    };
    PreseedError {
        line: location.map(|l| l.0),
        column: location.map(|l| l.1),
        key,
        message,
    }
}

/// Turns serde's parent path (`profiles[0].devices`) plus the full key back into segments.
/// Parent paths never hold dotted keys: those only occur in config maps, whose values are
/// scalars.
fn parse_path(parent: &str, key: &str) -> Vec<PathSegment> {
    let mut segs = Vec::new();
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            segs.push(PathSegment::Key(name.to_string()));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segs.push(PathSegment::Index(i));
            }
        }
    }
    let leaf = match parent {
        "" => key,
        _ => key
            .strip_prefix(parent)
            .map_or(key, |k| k.trim_start_matches('.')),
    };
    segs.push(PathSegment::Key(leaf.to_string()));
    segs
}

/// Removes every ` at line N column M` (the location is reported separately).
fn strip_locations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n = digits(after);
        match after[n..].strip_prefix(" column ") {
            Some(col) if n > 0 && digits(col) > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits `path: message`; the root has no path.
fn split_path(text: &str) -> (&str, &str) {
    if SERDE_PHRASES.iter().any(|p| text.starts_with(p)) {
        return ("", text);
    }
    match text.split_once(": ") {
        Some((path, message))
            if !path.is_empty()
                && !path.contains(char::is_whitespace)
                && SERDE_PHRASES.iter().any(|p| message.starts_with(p)) =>
        {
            (path, message)
        }
        _ => ("", text),
    }
}

/// The key the message is about, and the message reworded where serde's is terse.
fn describe(path: &str, message: &str) -> (String, String) {
    let join = |name: &str| match path {
        "" => name.to_string(),
        _ => format!("{path}.{name}"),
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, expected)) = rest.split_once('`')
    {
        let allowed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let allowed = match allowed.as_slice() {
            [] => "none".to_string(),
            list => list.join(", "),
        };
        return (
            join(name),
            format!("unknown key `{name}`; check the spelling (keys allowed here: {allowed})"),
        );
    }
    for phrase in ["duplicate field `", "duplicate key `"] {
        if let Some(rest) = message.strip_prefix(phrase)
            && let Some((name, _)) = rest.split_once('`')
        {
            return (
                join(name),
                format!("`{name}` is given twice; keep only one of them"),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return (join(name), format!("`{name}` is required here; add it"));
    }
    if path.is_empty() && !SERDE_PHRASES.iter().any(|p| message.starts_with(p)) {
        // Neither a key nor a type problem: the text is not YAML at all.
        return (
            String::new(),
            format!(
                "{message}: this is not valid YAML; check the indentation, quotes and colons \
                 on this line and the ones just before"
            ),
        );
    }
    (path.to_string(), message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_embedded_locations() {
        for (text, want) in [
            ("a at line 3 column 2, b", "a, b"),
            ("a at line 3 column 2", "a"),
            ("no location", "no location"),
            ("at line x column 1", "at line x column 1"),
            ("a at line 3 col", "a at line 3 col"),
        ] {
            assert_eq!(strip_locations(text), want);
        }
    }

    #[test]
    fn splits_the_path_off() {
        for (text, path, message) in [
            (
                "unknown field `x`, expected `y`",
                "",
                "unknown field `x`, expected `y`",
            ),
            ("cluster: unknown field `x`", "cluster", "unknown field `x`"),
            (
                "storage_pools[0].driver: invalid type: sequence",
                "storage_pools[0].driver",
                "invalid type: sequence",
            ),
            (
                "invalid type: sequence, expected struct Preseed",
                "",
                "invalid type: sequence, expected struct Preseed",
            ),
            (
                "mapping values are not allowed in this context",
                "",
                "mapping values are not allowed in this context",
            ),
        ] {
            assert_eq!(split_path(text), (path, message), "{text}");
        }
    }

    #[test]
    fn parses_paths_back() {
        use PathSegment::{Index, Key};
        for (parent, key, want) in [
            (
                "config",
                "config.user.a",
                vec![Key("config".into()), Key("user.a".into())],
            ),
            ("", "config", vec![Key("config".into())]),
            (
                "profiles[0].devices",
                "profiles[0].devices.r",
                vec![
                    Key("profiles".into()),
                    Index(0),
                    Key("devices".into()),
                    Key("r".into()),
                ],
            ),
        ] {
            assert_eq!(parse_path(parent, key), want);
        }
    }

    #[test]
    fn rewords_key_errors() {
        for (path, message, key, want) in [
            (
                "cluster",
                "unknown field `servername`, expected one of `server_name`, `enabled`",
                "cluster.servername",
                "unknown key `servername`; check the spelling (keys allowed here: server_name, enabled)",
            ),
            (
                "",
                "unknown field `x`, expected `config`",
                "x",
                "unknown key `x`; check the spelling (keys allowed here: config)",
            ),
            (
                "",
                "unknown field `x`, there are no fields",
                "x",
                "unknown key `x`; check the spelling (keys allowed here: none)",
            ),
            (
                "config",
                "duplicate key `a`; give each key only once",
                "config.a",
                "`a` is given twice; keep only one of them",
            ),
            (
                "storage_pools[0]",
                "duplicate field `name`",
                "storage_pools[0].name",
                "`name` is given twice; keep only one of them",
            ),
            (
                "cluster.member_config[0]",
                "missing field `key`",
                "cluster.member_config[0].key",
                "`key` is required here; add it",
            ),
            ("x", "invalid type: map", "x", "invalid type: map"),
        ] {
            assert_eq!(describe(path, message), (key.to_string(), want.to_string()));
        }
    }
}
