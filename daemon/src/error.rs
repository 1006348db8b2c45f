//! The error every domain operation returns: what went wrong, in words a user can act on,
//! and what kind of failure it is (which the REST adapter maps to an HTTP status).

/// A failed domain operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid; nothing was changed.
    #[error("{0}")]
    BadRequest(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// It conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The ETag given does not match the current one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The cluster cannot do it right now (no leader, quorum lost, shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// Something broke inside the daemon.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status LXD answers this kind of failure with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::PreconditionFailed(_) => 412,
            Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }
}

impl Error {
    /// The error a member answered with, by its HTTP status (when relaying another member's answer).
    pub fn from_status(status: u16, message: String) -> Self {
        match status {
            400 => Error::BadRequest(message),
            403 => Error::Forbidden(message),
            404 => Error::NotFound(message),
            409 => Error::Conflict(message),
            412 => Error::PreconditionFailed(message),
            503 => Error::Unavailable(message),
            _ => Error::Internal(message),
        }
    }
}

impl From<crate::db::global::ReadError> for Error {
    fn from(e: crate::db::global::ReadError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(format!("local database: {e}"))
    }
}

/// Shorthand for domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
