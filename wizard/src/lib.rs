//! The init flow: preseed parsing and validation with line/column errors, and (later) the
//! guided questions.

pub mod preseed;

pub use preseed::{PreseedError, parse_preseed, to_yaml, validate_all};
