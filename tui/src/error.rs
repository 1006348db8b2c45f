//! What a command can fail with; `main` prints it as `Error: <message>`, as lxc does.

use corral_shared::client::ClientError;

/// A command's failure, worded for the person who typed it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon refused or could not be reached; its message is shown unchanged.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The arguments make no sense together; the message says how to write them.
    #[error("{0}")]
    Usage(String),
    /// A local step failed (an editor, a daemon process, a confirmation refused); the
    /// message says what happened and what to do.
    #[error("{0}")]
    Failed(String),
    /// The answer could not be turned into the requested format.
    #[error("cannot print the answer as {format}: {message}; try another --format")]
    Encode {
        /// JSON, YAML...
        format: &'static str,
        /// What the encoder said.
        message: String,
    },
    /// Standard output could not be written (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// An encoding failure for `format`.
    pub fn encode(format: &'static str, error: impl std::fmt::Display) -> CliError {
        CliError::Encode {
            format,
            message: error.to_string(),
        }
    }
}
