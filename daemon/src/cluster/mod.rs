//! Cluster membership and configuration: who the members are, what roles they hold, the
//! server configuration, and bootstrapping a new cluster.

pub mod bootstrap;
pub mod config;
pub mod members;
