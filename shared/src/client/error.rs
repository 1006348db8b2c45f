//! What can go wrong talking to the daemon, each worded with what to do next.

use std::io;
use std::time::Duration;

use super::connector::Place;
use super::ssh::SshFailure;

/// A failed exchange with the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No stream to the daemon could be opened: no daemon, wrong directory or address, no
    /// permission, or (over HTTPS) a server that is not the one trusted.
    #[error("{}", connect_message(place, source))]
    Connect {
        /// Where we tried.
        place: Place,
        /// Why it failed.
        source: io::Error,
    },
    /// The daemon answered with an LXD error envelope; the message is shown as is,
    /// because users compare it with what `lxc` prints.
    #[error("{message}")]
    Api {
        /// The HTTP status (or the envelope's `error_code`).
        status: u16,
        /// The daemon's own words.
        message: String,
    },
    /// A background operation finished with an error.
    #[error("{message}")]
    Operation {
        /// The operation's `err`.
        message: String,
    },
    /// No answer in the allowed time.
    #[error(
        "timed out after {} waiting for {what}; the daemon may be busy or the cluster may \
         have lost quorum: check the daemon's log and 'corral cluster list', then retry",
        seconds(*after)
    )]
    Timeout {
        /// What we were waiting for.
        what: String,
        /// How long we waited.
        after: Duration,
    },
    /// The connection broke before a whole answer arrived.
    #[error(
        "the connection to the Corral daemon at {place} broke: {message}; check that corrald is \
         still running (its log says why it stopped), then retry"
    )]
    Transport {
        /// Where the daemon is.
        place: Place,
        /// What hyper reported.
        message: String,
    },
    /// The request could not be built (bad method or path); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The answer was not the LXD envelope or not the expected shape.
    #[error(
        "the Corral daemon sent an answer this client does not understand: {0}; \
         the daemon and this client may be different versions ('corral version' shows both)"
    )]
    Protocol(String),
}

impl ClientError {
    /// A connection that broke mid-exchange. When ssh carried it and failed (before or
    /// instead of speaking HTTP), the error is what ssh said, worded; otherwise it is the
    /// transport error hyper reported.
    pub(super) fn broken(place: &Place, error: hyper::Error) -> ClientError {
        if let Some(failure) = SshFailure::find(&error) {
            return ClientError::Connect {
                place: place.clone(),
                source: failure.clone().into_io(),
            };
        }
        ClientError::Transport {
            place: place.clone(),
            message: error.to_string(),
        }
    }

    /// The HTTP status of an API error, if this is one (404 tells "not found" apart).
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn connect_message(place: &Place, source: &io::Error) -> String {
    let hint = match (place, source.kind()) {
        (Place::Socket(_), io::ErrorKind::PermissionDenied) => {
            "Run the command as root or as the socket's owner, or ask for access to it"
        }
        (Place::Socket(_), _) => {
            "Is corrald running? Start it with 'corrald', or point CORRAL_DIR at its directory"
        }
        // rustls reports a refused certificate as invalid data.
        (Place::Https(_), io::ErrorKind::InvalidData) => {
            "The server is not the one this client trusts: compare its certificate's \
             fingerprint with the one you were given"
        }
        (Place::Https(_), _) => {
            "Is corrald listening there (core.https_address), and may this machine reach it?"
        }
        // The SSH transport's own errors say what ssh said and what to do.
        (Place::Ssh(_), _) => "",
    };
    if hint.is_empty() {
        return format!("cannot reach the Corral daemon at {place}: {source}");
    }
    format!("cannot reach the Corral daemon at {place}: {source}. {hint}")
}

/// Durations in whole seconds when they are whole, which is how users set them.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_say_what_to_do() {
        let missing = ClientError::Connect {
            place: Place::Socket("/x/unix.socket".into()),
            source: io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            missing.to_string(),
            "cannot reach the Corral daemon at /x/unix.socket: No such file or directory \
             (os error 2). Is corrald running? Start it with 'corrald', or point CORRAL_DIR \
             at its directory"
        );
        let denied = ClientError::Connect {
            place: Place::Socket("/x/unix.socket".into()),
            source: io::Error::from_raw_os_error(13),
        };
        assert!(denied.to_string().contains("as root"));
        let refused = ClientError::Connect {
            place: Place::Https("127.0.0.1:8443".into()),
            source: io::Error::from_raw_os_error(111),
        };
        assert_eq!(
            refused.to_string(),
            "cannot reach the Corral daemon at https://127.0.0.1:8443: Connection refused \
             (os error 111). Is corrald listening there (core.https_address), and may this \
             machine reach it?"
        );
        let stranger = ClientError::Connect {
            place: Place::Https("127.0.0.1:8443".into()),
            source: io::Error::new(io::ErrorKind::InvalidData, "fingerprint mismatch"),
        };
        assert!(
            stranger
                .to_string()
                .contains("compare its certificate's fingerprint")
        );
    }

    #[test]
    fn ssh_failures_are_shown_as_ssh_worded_them() {
        let target = crate::client::SshTarget::parse("ssh://root@lab:2222").unwrap();
        let failure =
            crate::client::ssh::classify(&target, Some(255), "Host key verification failed.\r\n");
        let e = ClientError::Connect {
            place: Place::Ssh(target),
            source: failure.clone().into_io(),
        };
        assert_eq!(
            e.to_string(),
            format!("cannot reach the Corral daemon at ssh://root@lab:2222: {failure}")
        );
        let spawn = ClientError::Connect {
            place: Place::Ssh(crate::client::SshTarget::parse("ssh://lab").unwrap()),
            source: io::Error::new(io::ErrorKind::NotFound, "cannot run ssh: not found"),
        };
        assert_eq!(
            spawn.to_string(),
            "cannot reach the Corral daemon at ssh://lab: cannot run ssh: not found"
        );
    }

    #[test]
    fn api_errors_show_the_daemons_message_only() {
        let e = ClientError::Api {
            status: 404,
            message: "Cluster member not found".into(),
        };
        assert_eq!(e.to_string(), "Cluster member not found");
        assert_eq!(e.status(), Some(404));
    }

    #[test]
    fn timeouts_name_what_was_awaited() {
        let e = ClientError::Timeout {
            what: "the Corral daemon to answer GET /1.0".into(),
            after: Duration::from_secs(30),
        };
        assert!(
            e.to_string().starts_with(
                "timed out after 30s waiting for the Corral daemon to answer GET /1.0;"
            )
        );
    }
}
