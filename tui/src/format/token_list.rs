//! `list-tokens` in every format, for join tokens (`cluster`) and trust tokens (`config
//! trust`) alike: lxc prints both the same way, only the name's field differs.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::Format;
use crate::error::CliError;

/// The columns lxc 5.0 shows.
const HEADER: [&str; 3] = ["NAME", "TOKEN", "EXPIRES AT"];

/// One token's row: the name, the token, the expiry cell, with the Go name of the name's
/// field (`ServerName`, `ClientName`), which JSON shows as is and YAML lower-cased.
struct Row<'a> {
    name_field: &'a str,
    lower: bool,
    cells: &'a [String],
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let key = |go: &str| {
            if self.lower {
                go.to_lowercase()
            } else {
                go.to_owned()
            }
        };
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry(&key(self.name_field), &self.cells[0])?;
        map.serialize_entry(&key("Token"), &self.cells[1])?;
        map.serialize_entry(&key("ExpiresAt"), &self.cells[2])?;
        map.end()
    }
}

/// `rows` (name, token, expiry cell; in display order) as `format` prints them.
pub fn render(rows: &[Vec<String>], name_field: &str, format: Format) -> Result<String, CliError> {
    let objects = |lower| -> Vec<Row<'_>> {
        rows.iter()
            .map(|cells| Row {
                name_field,
                lower,
                cells,
            })
            .collect()
    };
    match format {
        Format::Json => super::json::line(&objects(false)).map_err(|e| CliError::encode("JSON", e)),
        Format::Yaml => {
            super::yaml::document(&objects(true)).map_err(|e| CliError::encode("YAML", e))
        }
        tabular => super::listing(tabular, &HEADER, rows, &()),
    }
}
