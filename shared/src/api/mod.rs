//! The REST API's types, with LXD's field names so LXD's own clients understand them.

mod certificate;
mod cluster;
mod envelope;
mod evacuation;
mod event;
mod group;
mod image;
mod instance;
mod network;
mod operation;
mod server;
mod storage;
mod watch;

pub use certificate::{
    Certificate, CertificateAddToken, CertificateAddTokenError, CertificatesPost,
};
pub use cluster::{Cluster, ClusterMember, ClusterMemberPut, MemberConfigKey, MemberStatus, Role};
pub use envelope::{Envelope, ResponseType, etag_of};
pub use evacuation::{ClusterMemberStatePost, EvacuationPlan, EvacuationStep};
pub use event::{
    Action, DEFAULT_PROJECT, Event, EventType, Lifecycle, Requestor, UnknownEventType, parse_types,
};
pub use group::{ClusterGroup, ClusterGroupPost, ClusterGroupPut, ClusterGroupsPost};
pub use image::{Image, ImageAlias, ImageAliasesEntry, ImageAliasesPost, ImagePut};
pub use instance::{
    Instance, InstanceExecControl, InstanceExecPost, InstancePost, InstancePut, InstanceSource,
    InstanceState, InstanceStateNetwork, InstanceStateNetworkAddress, InstanceStatePut,
    InstanceStatus, InstancesPost,
};
pub use network::{NETWORK_MEMBER_KEYS, Network, NetworkPut, NetworksPost};
pub use operation::{Operation, OperationClass, OperationList, OperationStatus};
pub use server::{API_EXTENSIONS, Server, ServerEnvironment, ServerPut, ServerUntrusted};
pub use storage::{
    POOL_MEMBER_KEYS, StoragePool, StoragePoolPut, StoragePoolsPost, StorageVolume,
    StorageVolumePost, StorageVolumesPost,
};
pub use watch::{ClusterSnapshot, RaftRole, RaftState, WatchEvent};
