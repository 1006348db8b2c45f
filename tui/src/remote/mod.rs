//! Remotes, as lxc has them: named servers in the user's config.yml, reached over the local
//! socket, HTTPS (a pinned server certificate and this client's own) or SSH. This module
//! keeps the file, the client's certificate and the pinned ones, adds remotes (trust on
//! first contact), and turns a remote into the [`Client`] a command talks through.

pub mod address;
pub mod config;
pub mod first_contact;
pub mod identity;
pub mod prefix;
pub mod trust;

use std::path::Path;

use corral_shared::client::{Client, ClientError, Connector, Place};
use corral_shared::tls::ServerTrust;

pub use address::Address;
pub use config::{Config, LOCAL, Remote};

use crate::cli::Command;
use crate::error::CliError;

/// What can go wrong with remotes, each worded with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A remote named on the command line that config.yml lacks (`corral remote ...`).
    #[error("Remote {0} doesn't exist; 'corral remote list' shows the remotes")]
    NoSuchRemote(String),
    /// A `REMOTE:` prefix naming no known remote: lxc's words.
    #[error("The remote \"{0}\" doesn't exist; 'corral remote list' shows the remotes")]
    UnknownPrefix(String),
    /// A change lxc refuses too (a static remote, a taken name, a bad address).
    #[error("{0}")]
    Refused(String),
    /// The configuration cannot be read or used.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The server could not be reached on first contact.
    #[error(
        "cannot reach {address}: {why}. Is corrald listening there (core.https_address), and \
         may this machine reach it?"
    )]
    Unreachable {
        /// `HOST:PORT`.
        address: String,
        /// What happened.
        why: String,
    },
    /// The server (or the user) refused to establish trust.
    #[error("{0}")]
    Trust(String),
    /// The server answered an error during the exchange.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl RemoteError {
    /// An I/O failure on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> RemoteError {
        RemoteError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<RemoteError> for CliError {
    fn from(error: RemoteError) -> CliError {
        match error {
            RemoteError::Client(e) => CliError::Client(e),
            RemoteError::Io { path, source } => CliError::Failed(format!("{path}: {source}")),
            other => CliError::Failed(other.to_string()),
        }
    }
}

/// The remote `command` goes to, its client, and the command without its `REMOTE:` prefix.
/// Without a config directory or
/// config.yml, the only remote is `local`: today's socket through CORRAL_DIR.
pub fn target(command: Command) -> Result<(String, Client, Command), RemoteError> {
    // These never talk to a daemon through a remote.
    if matches!(
        command,
        Command::Remote(_) | Command::Demo(_) | Command::DialStdio(_)
    ) {
        return Ok((LOCAL.to_owned(), Client::local(), command));
    }
    let dir = config::config_dir_from_env().ok();
    let config = match &dir {
        Some(dir) => Config::load(dir)?,
        None => Config::default(),
    };
    let (name, command) = prefix::resolve(command, &config)?;
    let remote = config.remote(&name)?;
    let client = match &dir {
        Some(dir) => client_for(dir, &name, remote)?,
        None => Client::local(),
    };
    Ok((name, client, command))
}

/// The client of remote `name`, as config.yml in `dir` describes it.
pub fn client_for(dir: &Path, name: &str, remote: &Remote) -> Result<Client, RemoteError> {
    match Address::parse(&remote.addr)? {
        Address::Unix(None) => Ok(Client::local()),
        Address::Unix(Some(path)) => Ok(Client::unix(path)),
        Address::Ssh(target) => Ok(Client::new(Connector::Ssh(target))),
        Address::Https(host_port) => {
            let fingerprint = identity::pinned_fingerprint(dir, name)?.ok_or_else(|| {
                RemoteError::Config(format!(
                    "remote {name} has no pinned server certificate ({} is missing); run \
                     'corral remote remove {name}' and add it again",
                    identity::server_cert_path(dir, name).display()
                ))
            })?;
            let client = identity::load(dir)?.ok_or_else(|| {
                RemoteError::Config(format!(
                    "there is no client certificate in {}; run 'corral remote remove {name}' \
                     and add it again to make one and have the server trust it",
                    dir.display()
                ))
            })?;
            Client::https(
                &host_port,
                &ServerTrust::Fingerprint(fingerprint),
                Some(&client.identity),
            )
            .map_err(|e| RemoteError::Config(format!("remote {name}: {e}")))
        }
    }
}

/// A command's failure through remote `name`, with a server whose certificate is not the
/// pinned one turned into a loud refusal that names both fingerprints and what to do, and
/// a server that no longer trusts this client told apart from other refusals.
pub fn explain(name: &str, error: CliError) -> CliError {
    if let CliError::Client(ClientError::Api {
        status: 403,
        message,
    }) = &error
        && message == "not authorized"
        && name != LOCAL
    {
        return CliError::Failed(format!(
            "not authorized: remote \"{name}\" does not trust this client (its certificate \
             may have been removed from the server's trust store). Ask its administrator for a \
             token ('corral config trust add NAME' there), then 'corral remote remove {name}' \
             and 'corral remote add {name} TOKEN'"
        ));
    }
    let CliError::Client(ClientError::Connect {
        place: Place::Https(address),
        source,
    }) = &error
    else {
        return error;
    };
    match changed_certificate(&source.to_string()) {
        Some((pinned, presented)) => {
            CliError::Failed(changed_message(name, address, &pinned, &presented))
        }
        None => error,
    }
}

/// The pinned and presented fingerprints out of the TLS verifier's refusal
/// ("certificate fingerprint mismatch: expected X, got Y").
pub fn changed_certificate(text: &str) -> Option<(String, String)> {
    let rest = &text[text.find("certificate fingerprint mismatch: expected ")?..];
    let rest = rest.strip_prefix("certificate fingerprint mismatch: expected ")?;
    let (pinned, rest) = rest.split_once(", got ")?;
    let presented: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    Some((pinned.to_owned(), presented))
}

/// The refusal for a server that now presents another certificate.
pub fn changed_message(name: &str, address: &str, pinned: &str, presented: &str) -> String {
    format!(
        "The server certificate of remote \"{name}\" (https://{address}) has changed, so \
         nothing was sent to it.\n  pinned:    {pinned}\n  presented: {presented}\nSomeone may \
         be impersonating the server, or its certificate was replaced. Ask its administrator \
         which fingerprint is right; if the change is expected, run 'corral remote remove \
         {name}' and then 'corral remote add {name} https://{address}' to trust the new one."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_certificate_names_both_fingerprints_and_the_way_out() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: Other(OtherError(certificate fingerprint mismatch: \
             expected aa11, got bb22))",
        );
        let error = CliError::Client(ClientError::Connect {
            place: Place::Https("127.0.0.1:8443".into()),
            source: io,
        });
        let text = explain("prod", error).to_string();
        for says in [
            "remote \"prod\" (https://127.0.0.1:8443) has changed",
            "pinned:    aa11",
            "presented: bb22",
            "corral remote remove prod",
            "nothing was sent",
        ] {
            assert!(text.contains(says), "{says}: {text}");
        }
        // Anything else passes through untouched.
        let other = CliError::Usage("x".into());
        assert_eq!(explain("prod", other).to_string(), "x");
        let untrusted = || {
            CliError::Client(ClientError::Api {
                status: 403,
                message: "not authorized".into(),
            })
        };
        let text = explain("prod", untrusted()).to_string();
        assert!(
            text.contains("remote \"prod\" does not trust this client"),
            "{text}"
        );
        assert_eq!(explain(LOCAL, untrusted()).to_string(), "not authorized");
        assert_eq!(changed_certificate("connection refused"), None);
    }

    #[test]
    fn each_kind_of_remote_becomes_its_client() {
        let dir = tempfile::tempdir().unwrap();
        let local = client_for(dir.path(), LOCAL, &Remote::local()).unwrap();
        assert_eq!(local.place(), Client::local().place());
        let socket = Remote::new("unix:///run/x/unix.socket", "");
        let client = client_for(dir.path(), "s", &socket).unwrap();
        assert_eq!(client.place(), Place::Socket("/run/x/unix.socket".into()));
        let ssh = Remote::new("ssh://admin@lab:2222", "ssh");
        assert_eq!(
            client_for(dir.path(), "lab", &ssh)
                .unwrap()
                .place()
                .to_string(),
            "ssh://admin@lab:2222"
        );
        // HTTPS needs its pinned certificate, then this client's own.
        let https = Remote::new("https://127.0.0.1:8443", "tls");
        let error = client_for(dir.path(), "prod", &https)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no pinned server certificate"), "{error}");
        identity::pin_server_cert(dir.path(), "prod", &[0x30, 0]).unwrap();
        let error = client_for(dir.path(), "prod", &https)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no client certificate"), "{error}");
        identity::load_or_create(dir.path(), &mut Vec::new()).unwrap();
        let client = client_for(dir.path(), "prod", &https).unwrap();
        assert_eq!(client.place(), Place::Https("127.0.0.1:8443".into()));
    }
}
