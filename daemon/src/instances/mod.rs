//! Instances: placement, the runc runtime, lifecycle and migration between members.

pub mod evacuation;
pub mod scheduler;
