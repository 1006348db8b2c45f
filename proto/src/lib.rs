//! Corral's gRPC protocol, generated from `proto/corral.proto` at build time.

/// Version 1 of the member-to-member and operator protocol.
pub mod v1 {
    tonic::include_proto!("corral.v1");
}
