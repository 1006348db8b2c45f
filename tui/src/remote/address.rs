//! What `corral remote add NAME ADDRESS` and config.yml's `addr` may say: a unix socket, an
//! HTTPS member (`[https://]HOST[:PORT]`, port 8443 by default, as lxc) or an SSH remote.

use std::path::PathBuf;

use corral_shared::client::SshTarget;

use super::RemoteError;

/// LXD's (and Corral's) default HTTPS port.
pub const DEFAULT_PORT: u16 = 8443;

/// Where a remote is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `unix://`: the local daemon through `CORRAL_DIR`; `unix:///PATH`: that socket.
    Unix(Option<PathBuf>),
    /// `https://HOST:PORT`; holds `HOST:PORT` (IPv6 in brackets), as a TCP connect takes it.
    Https(String),
    /// `ssh://[USER@]HOST[:PORT][/PATH]`.
    Ssh(SshTarget),
}

impl Address {
    /// Reads an address as the user typed it, or as config.yml stores it.
    pub fn parse(text: &str) -> Result<Address, RemoteError> {
        let text = text.trim();
        if text.starts_with("ssh://") {
            return SshTarget::parse(text)
                .map(Address::Ssh)
                .map_err(RemoteError::Refused);
        }
        if let Some(path) = text.strip_prefix("unix:") {
            let path = path.trim_start_matches("//");
            return Ok(Address::Unix(
                (!path.is_empty()).then(|| PathBuf::from(path)),
            ));
        }
        let rest = match text.split_once("://") {
            Some(("https", rest)) => rest,
            Some((scheme, _)) => {
                return Err(RemoteError::Refused(format!(
                    "Invalid URL scheme \"{scheme}\" in \"{text}\": write [https://]HOST[:PORT] \
                     or ssh://[USER@]HOST[:PORT][/PATH]"
                )));
            }
            None => text,
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            return Err(RemoteError::Refused(format!(
                "\"{text}\" is not an address: write [https://]HOST[:PORT] (port {DEFAULT_PORT} \
                 when left out) or ssh://[USER@]HOST[:PORT][/PATH]"
            )));
        }
        Ok(Address::Https(host_port(authority, text)?))
    }

    /// The address as config.yml stores it and `remote list` shows it.
    pub fn url(&self) -> String {
        match self {
            Address::Unix(None) => "unix://".into(),
            Address::Unix(Some(path)) => format!("unix://{}", path.display()),
            Address::Https(host_port) => format!("https://{host_port}"),
            Address::Ssh(target) => target.to_string(),
        }
    }

    /// config.yml's `auth_type` for this kind of address.
    pub fn auth_type(&self) -> &'static str {
        match self {
            Address::Unix(_) => "",
            Address::Https(_) => "tls",
            Address::Ssh(_) => "ssh",
        }
    }
}

/// `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address, as `HOST:PORT`.
fn host_port(authority: &str, text: &str) -> Result<String, RemoteError> {
    let bad_port = |port: &str| {
        RemoteError::Refused(format!(
            "\"{text}\": the port {port:?} is not a number from 1 to 65535"
        ))
    };
    let parse_port = |port: &str| {
        port.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad_port(port))
    };
    if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or_else(|| {
            RemoteError::Refused(format!("\"{text}\": the IPv6 address has no closing ']'"))
        })?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(after.strip_prefix(':').unwrap_or(after))?,
        };
        return Ok(format!("[{host}]:{port}"));
    }
    match authority.matches(':').count() {
        0 => Ok(format!("{authority}:{DEFAULT_PORT}")),
        1 => {
            let (host, port) = authority.split_once(':').expect("one colon");
            if host.is_empty() {
                return Err(RemoteError::Refused(format!("\"{text}\" names no host")));
            }
            Ok(format!("{host}:{}", parse_port(port)?))
        }
        // More than one colon and no brackets: a bare IPv6 address.
        _ => Ok(format!("[{authority}]:{DEFAULT_PORT}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_lxc_reads_them() {
        let https = |s: &str| Some(Address::Https(s.into()));
        let cases: [(&str, Option<Address>); 12] = [
            ("10.0.0.1", https("10.0.0.1:8443")),
            ("10.0.0.1:9443", https("10.0.0.1:9443")),
            ("https://lab.example", https("lab.example:8443")),
            ("https://127.0.0.2:8443/", https("127.0.0.2:8443")),
            ("::1", https("[::1]:8443")),
            ("[::1]:9000", https("[::1]:9000")),
            ("unix://", Some(Address::Unix(None))),
            (
                "unix:///run/c/unix.socket",
                Some(Address::Unix(Some("/run/c/unix.socket".into()))),
            ),
            (
                "ssh://admin@lab:2222/srv",
                SshTarget::parse("ssh://admin@lab:2222/srv")
                    .ok()
                    .map(Address::Ssh),
            ),
            ("http://10.0.0.1", None),
            ("10.0.0.1:0", None),
            ("https://", None),
        ];
        for (text, expected) in cases {
            assert_eq!(Address::parse(text).ok(), expected, "{text}");
        }
    }

    #[test]
    fn stored_urls_read_back_the_same() {
        for text in [
            "unix://",
            "https://10.0.0.1:8443",
            "https://[::1]:8443",
            "ssh://lab",
        ] {
            assert_eq!(Address::parse(text).unwrap().url(), text);
        }
        let error = Address::parse("http://x").unwrap_err().to_string();
        assert!(
            error.starts_with("Invalid URL scheme \"http\" in \"http://x\""),
            "{error}"
        );
        let error = Address::parse("ssh://@lab").unwrap_err().to_string();
        assert!(error.contains("empty user"), "{error}");
    }
}
