//! corrald: a Corral cluster member. A headless daemon that keeps a Raft-replicated SQLite
//! database with its peers and serves LXD's REST API and Corral's gRPC API on one TLS port.

// The subcommands name the library by its crate name (they began in the `corrald` binary).
extern crate self as corral_daemon;

pub mod api;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod db;
pub mod error;
pub mod events;
pub mod images;
pub mod instances;
pub mod network;
pub mod node;
pub mod operations;
pub mod peers;
pub mod raft;
pub mod recovery;
pub mod storage;
pub mod tasks;
pub mod tls;
