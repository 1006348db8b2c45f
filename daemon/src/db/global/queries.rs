//! Typed reads over the global database, re-exported from the modules that own each table,
//! for callers that read several tables in one transaction.

pub use super::certificate_tokens::{CertificateTokenRow, certificate_tokens};
pub use super::certificates::{CertificateRow, certificate_trusted, certificates};
pub use super::config::config;
pub use super::entities::{NamedEntity, networks, profiles, storage_pools};
pub use super::nodes::{MemberRow, member_by_id, member_rows, members};
pub use super::tokens::{TokenRow, tokens};
