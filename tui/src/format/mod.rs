//! Output formatting, kept apart from the commands so it is tested without a daemon.

pub mod csv;
pub mod dates;
pub mod json;
pub mod order;
pub mod table;
pub mod token_list;
pub mod yaml;

use serde::Serialize;

use crate::error::CliError;

/// How list commands print, as `lxc ... --format` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A boxed ASCII table.
    #[default]
    Table,
    /// A borderless table.
    Compact,
    /// Comma-separated values, no header.
    Csv,
    /// The API objects as one line of JSON.
    Json,
    /// The API objects as YAML.
    Yaml,
}

/// Renders a listing: the rows for the tabular formats, the API objects for JSON and YAML.
pub fn listing<T: Serialize + ?Sized>(
    format: Format,
    header: &[&str],
    rows: &[Vec<String>],
    objects: &T,
) -> Result<String, CliError> {
    match format {
        Format::Table => Ok(table::boxed(header, rows)),
        Format::Compact => Ok(table::compact(header, rows)),
        Format::Csv => Ok(csv::rows(rows)),
        Format::Json => json::line(objects).map_err(|e| CliError::encode("JSON", e)),
        Format::Yaml => yaml::document(objects).map_err(|e| CliError::encode("YAML", e)),
    }
}
