//! The vocabulary every Corral binary shares: the REST API's types (shaped as LXD's),
//! the server configuration keys and their rules, where the daemon lives, and the client.

pub mod api;
pub mod client;
pub mod config;
pub mod doctor;
pub mod fingerprint;
pub mod paths;
pub mod preseed;
pub mod quorum;
pub mod reference;
pub mod table;
pub mod tls;
pub mod x509;
