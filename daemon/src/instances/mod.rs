//! Instances: placement, the runc runtime, lifecycle and migration between members.

pub mod autostart;
pub mod bundle;
pub mod config;
pub mod evacuation;
pub mod exec;
pub mod files;
pub mod holder;
pub mod interfaces;
pub mod lifecycle;
pub mod local;
pub mod migration;
pub mod nic;
pub mod placement;
pub mod reconfigure;
pub mod relocation;
pub mod rename;
pub mod runc;
pub mod scheduler;
