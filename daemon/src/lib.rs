//! corrald: a Corral cluster member. A headless daemon that keeps a Raft-replicated SQLite
//! database with its peers and serves LXD's REST API and Corral's gRPC API on one TLS port.

pub mod api;
pub mod cluster;
pub mod db;
pub mod error;
pub mod events;
pub mod node;
pub mod operations;
pub mod raft;
pub mod recovery;
pub mod tls;
