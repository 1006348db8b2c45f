//! `corral dashboard`: the full-screen live view of the cluster (see `crate::dashboard`).

use std::path::PathBuf;

use clap::Args;
use corral_shared::client::{Client, Place};

use crate::error::CliError;

/// Arguments of `corral dashboard`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct DashboardArgs {
    /// The remote to watch (the default remote when absent); a remote is reconnected to
    /// itself when its connection drops
    #[arg(value_name = "[REMOTE:]")]
    pub remote: Option<String>,
    /// Another member's directory (its CORRAL_DIR) or unix socket, watched when the local
    /// daemon cannot be reached; may be given more than once
    #[arg(long = "also", value_name = "DIR_OR_SOCKET")]
    pub also: Vec<PathBuf>,
}

/// Opens the dashboard on the daemon behind `client` until the user quits.
pub async fn run(client: &Client, args: DashboardArgs) -> Result<(), CliError> {
    let options = crate::dashboard::Options {
        fallbacks: args.also.iter().map(|p| socket_of(p)).collect(),
        about: remote_line(args.remote.as_deref(), &client.place())
            .into_iter()
            .collect(),
    };
    crate::dashboard::run(client.clone(), options).await
}

/// The line under the title that names the remote watched, when it is not a local socket:
/// the log line saying so scrolls away, and an operator must always see where they look.
fn remote_line(remote: Option<&str>, place: &Place) -> Option<String> {
    if matches!(place, Place::Socket(_)) {
        return None;
    }
    Some(match remote.map(|r| r.trim_end_matches(':')) {
        Some(name) => format!("remote {name}: {place}"),
        None => format!("remote {place}"),
    })
}

/// A member's socket: `path` itself if it is one, else the socket inside that directory.
pub fn socket_of(path: &std::path::Path) -> PathBuf {
    if path.is_dir() {
        corral_shared::paths::unix_socket(path)
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_is_named_under_the_title_and_a_local_socket_is_not() {
        let https = Place::Https("10.0.0.5:8443".into());
        // (remote argument, place, line)
        let cases = [
            (
                Some("lab:"),
                &https,
                Some("remote lab: https://10.0.0.5:8443"),
            ),
            (None, &https, Some("remote https://10.0.0.5:8443")),
            (
                Some("local:"),
                &Place::Socket("/var/lib/corral/unix.socket".into()),
                None,
            ),
        ];
        for (remote, place, want) in cases {
            assert_eq!(remote_line(remote, place).as_deref(), want, "{remote:?}");
        }
    }

    #[test]
    fn a_directory_means_its_socket_and_a_socket_itself() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            socket_of(dir.path()),
            corral_shared::paths::unix_socket(dir.path())
        );
        let socket = dir.path().join("unix.socket");
        assert_eq!(socket_of(&socket), socket);
    }
}
