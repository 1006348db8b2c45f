//! The subcommands of `corrald`.

pub mod cluster;
pub mod init;
pub mod serve;
pub mod shutdown;
pub mod sql;
pub mod waitready;

use corral_shared::client::Client;

/// A client for the daemon whose directory is `CORRAL_DIR`.
pub fn local_client() -> Client {
    Client::local()
}
