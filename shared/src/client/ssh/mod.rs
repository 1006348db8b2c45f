//! SSH remotes: `ssh://[USER@]HOST[:PORT][/PATH]`. The system `ssh` client makes the
//! connection (so its config, agents, jump hosts and known_hosts all apply) and runs
//! `corral dial-stdio` on the far side; the child's standard input and output are the byte
//! stream that REST and gRPC travel through, and its standard error says why it failed.

mod command;
mod failure;
mod stream;
mod target;

pub use command::SSH_COMMAND_VAR;
pub use failure::SshFailure;
#[cfg(test)]
pub(super) use failure::classify;
pub(super) use stream::connect;
pub use target::SshTarget;
