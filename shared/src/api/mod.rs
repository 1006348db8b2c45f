//! The REST API's types, with LXD's field names so LXD's own clients understand them.

mod certificate;
mod cluster;
mod envelope;
mod operation;
mod server;
mod watch;

pub use certificate::{Certificate, CertificatesPost};
pub use cluster::{Cluster, ClusterMember, ClusterMemberPut, MemberConfigKey, MemberStatus, Role};
pub use envelope::{Envelope, ResponseType, etag_of};
pub use operation::{Operation, OperationClass, OperationList, OperationStatus};
pub use server::{Server, ServerEnvironment, ServerPut, ServerUntrusted};
pub use watch::{ClusterSnapshot, RaftRole, RaftState, WatchEvent};

/// The API extensions Corral implements, in LXD's order; `GET /1.0` lists them.
pub const API_EXTENSIONS: &[&str] = &[
    "etag",
    "patch",
    "network",
    "storage",
    "profile_usedby",
    "operation_description",
    "clustering",
    "clustering_join",
    "clustering_server_address",
    "clustering_image_replication",
    "clustering_roles",
    "clustering_evacuation",
    "clustering_failure_domains",
    "clustering_config",
    "clustering_update_cert",
    "clustering_groups",
    "clustering_join_token",
    "cluster_join_token_expiry",
    "auth",
];
