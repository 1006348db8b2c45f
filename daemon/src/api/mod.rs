//! The API adapters: REST (LXD's shapes) and gRPC (members and operators), served on one
//! TLS port and the local unix socket. Adapters translate; domain modules decide.

pub mod grpc;
pub mod lines;
pub mod listener;
pub mod rest;

/// Who is on the other end of a request, attached to every request by the listener.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Fingerprint of the client certificate, if one was presented over TLS.
    pub fingerprint: Option<String>,
    /// That certificate, DER.
    pub certificate: Option<std::sync::Arc<Vec<u8>>>,
    /// Whether the request came through the root-only unix socket.
    pub local: bool,
    /// The client's address (`IP:port`) over TLS.
    pub address: Option<String>,
}
