//! Reading a preseed from YAML text, with every error placed at a line and column, and
//! printing one back.
//!
//! [`parse_preseed`] stops at the first problem (the one earliest in the file);
//! [`validate_all`] reports every semantic problem at once, for editors and the wizard.

mod locate;
mod serde_error;

use std::fmt;

use corral_shared::preseed::{Preseed, Violation};

pub use locate::{Position, locate, locate_nearest, locate_repeat};

/// A problem in a preseed, placed in its text where possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PreseedError {
    /// 1-based line of the offending key or value, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Dotted path of the key at fault (`config.cluster.max_voters`), or "" for syntax errors.
    pub key: String,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl fmt::Display for PreseedError {
    /// `line 4, column 3: config.cluster.max_voters: cannot set ...`; parts that are unknown
    /// are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl PreseedError {
    /// A semantic violation, placed by finding its path (or the nearest enclosing key) in `text`.
    pub fn from_violation(text: &str, violation: &Violation) -> Self {
        let position = locate_nearest(text, &violation.path);
        Self {
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            key: violation.path_string(),
            message: violation.message(),
        }
    }
}

/// Parses and validates a preseed; the error is the first problem in the file.
pub fn parse_preseed(text: &str) -> Result<Preseed, PreseedError> {
    validate_all(text).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses and validates a preseed, reporting every semantic problem, sorted by position
/// (those that could not be placed come last). A YAML or type error stops parsing, so it is
/// reported alone.
pub fn validate_all(text: &str) -> Result<Preseed, Vec<PreseedError>> {
    if let Some(e) = lone_carriage_return(text) {
        return Err(vec![e]);
    }
    let preseed: Preseed =
        serde_yaml::from_str(text).map_err(|e| vec![serde_error::convert(&e, text)])?;
    let Err(violations) = preseed.validate() else {
        return Ok(preseed);
    };
    let mut errors: Vec<PreseedError> = violations
        .iter()
        .map(|v| PreseedError::from_violation(text, v))
        .collect();
    // Stable: violations at the same place keep the order validation found them in.
    errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
    Err(errors)
}

/// YAML reads a carriage return alone as a line break where editors show none, so every
/// line number after it would be off: such text is refused at the carriage return.
fn lone_carriage_return(text: &str) -> Option<PreseedError> {
    let bytes = text.as_bytes();
    let at = (0..bytes.len()).find(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))?;
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some(PreseedError {
        line: Some(before.matches('\n').count() + 1),
        column: Some(before[line_start..].chars().count() + 1),
        key: String::new(),
        message: "a carriage return (\\r) without a line feed after it: save the file with Unix (LF) or Windows (CR LF) line endings".into(),
    })
}

/// Prints a preseed as YAML that [`parse_preseed`] reads back to the same value.
pub fn to_yaml(preseed: &Preseed) -> String {
    serde_yaml::to_string(preseed).expect("a preseed is plain data and always serialises")
}

#[cfg(test)]
mod assets_tests;
#[cfg(test)]
mod tests;
