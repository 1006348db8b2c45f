//! Offline recovery: tools that read and rewrite a stopped member's database files, for
//! when the cluster cannot fix itself (quorum lost for good, every address changed).

pub mod files;
pub mod raft_config;
