//! CSV as Go's `encoding/csv` writes it, which is what `lxc ... --format csv` prints.

/// The rows as CSV lines (no header, as lxc prints none).
pub fn rows(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in rows {
        let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A field, quoted only when a reader would misread it otherwise.
fn field(f: &str) -> String {
    let needs_quotes = f.contains([',', '"', '\r', '\n'])
        || f == r"\."
        || f.chars().next().is_some_and(char::is_whitespace);
    if needs_quotes {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let got = rows(&[vec![
            "node1".into(),
            "database-leader,database".into(),
            String::new(),
            "say \"hi\"".into(),
            " lead".into(),
        ]]);
        assert_eq!(
            got,
            "node1,\"database-leader,database\",,\"say \"\"hi\"\"\",\" lead\"\n"
        );
    }
}
