//! Cluster membership and configuration: who the members are, what roles they hold, the
//! server configuration, bootstrapping, joining, trust and removal.

pub mod accept;
pub mod address;
pub mod bootstrap;
pub mod certificate;
pub mod certificate_tokens;
pub mod config;
pub mod doctor;
pub mod dump;
pub mod evacuate;
pub mod groups;
pub mod handover;
pub mod heartbeat;
pub mod join;
pub mod member_config;
pub mod member_edit;
pub mod member_state;
pub mod members;
pub mod quorum;
pub mod raft_node;
pub mod rebalance;
pub mod remove;
pub mod roles;
pub mod spares;
pub mod tokens;
pub mod trust;
pub mod two_phase;
pub mod versions;
