//! Listen addresses (`core.https_address`, `cluster.https_address`, `server_address`):
//! parsing and the canonical `host:port` form.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The port LXD (and Corral) listens on when an address names none.
pub const DEFAULT_PORT: u16 = 8443;

/// A parsed listen address; `host` is empty for "every interface" (`:8443`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    /// An IP address (IPv6 without brackets), a host name, or empty for all interfaces.
    pub host: String,
    /// The port, [`DEFAULT_PORT`] when the text named none.
    pub port: u16,
}

impl ListenAddress {
    /// Parses `host:port`, `host`, `[ipv6]:port`, `[ipv6]`, a bare IPv6 address or `:port`.
    ///
    /// The error is the rule that was broken, phrased for the end of a `ConfigError`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(rule("the address is empty"));
        }
        // A bare IPv6 address is full of colons, so it must be tried before splitting a port off.
        if let Ok(ip) = text.parse::<Ipv6Addr>() {
            return Ok(Self {
                host: ip.to_string(),
                port: DEFAULT_PORT,
            });
        }
        let (host, port) = split_host_port(text)?;
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => parse_port(p)?,
        };
        check_host(host)?;
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }

    /// Whether this address listens on every interface (empty host, `0.0.0.0` or `::`).
    pub fn is_wildcard(&self) -> bool {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => ip.is_unspecified(),
            Err(_) => self.host.is_empty(),
        }
    }
}

impl fmt::Display for ListenAddress {
    /// The canonical form: `host:port`, with IPv6 hosts in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Canonicalises an address to `host:port` (adding port 8443 when missing).
pub fn canonical_address(text: &str) -> Result<String, String> {
    ListenAddress::parse(text).map(|a| a.to_string())
}

/// Wraps a specific problem in the general shape of a valid address, so the user sees both.
fn rule(problem: &str) -> String {
    format!(
        "Invalid address: {problem}; use host:port, [ipv6]:port or :port \
         (port 1-65535, 8443 when omitted), e.g. 10.0.0.1:8443"
    )
}

/// Splits off the port, understanding IPv6 brackets; `None` when no port is given.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err(rule("'[' opens an IPv6 address but no ']' closes it"));
        };
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err(rule(&format!("\"{ip}\" inside [] is not an IPv6 address")));
        }
        return match after {
            "" => Ok((ip, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((ip, Some(port))),
                None => Err(rule(&format!("unexpected \"{after}\" after ']'"))),
            },
        };
    }
    match text.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Err(rule(
            "an IPv6 address with a port must be written in brackets, like [fd00::1]:8443",
        )),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(rule(&format!(
            "port \"{port}\" must be a number between 1 and 65535"
        ))),
    }
}

/// Accepts an IPv4 address or a DNS-style host name (letters, digits, '-', '.').
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let all_digits_and_dots = host.chars().all(|c| c.is_ascii_digit() || c == '.');
    if host.len() <= 253 && !all_digits_and_dots && host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(rule(&format!(
            "\"{host}\" is neither an IP address nor a host name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalises() {
        for (text, canonical, wildcard) in [
            ("127.0.0.1:8443", "127.0.0.1:8443", false),
            ("127.0.0.1", "127.0.0.1:8443", false),
            ("10.0.0.1:1", "10.0.0.1:1", false),
            ("10.0.0.1:65535", "10.0.0.1:65535", false),
            ("[fd00::1]:9000", "[fd00::1]:9000", false),
            ("[fd00::1]", "[fd00::1]:8443", false),
            ("fd00::1", "[fd00::1]:8443", false),
            ("::", "[::]:8443", true),
            ("[::]:8443", "[::]:8443", true),
            (":8443", ":8443", true),
            ("0.0.0.0:8443", "0.0.0.0:8443", true),
            ("node1.example.com:8443", "node1.example.com:8443", false),
            ("localhost", "localhost:8443", false),
        ] {
            let a = ListenAddress::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.to_string(), canonical, "{text}");
            assert_eq!(a.is_wildcard(), wildcard, "{text}");
        }
    }

    #[test]
    fn refuses_garbage_with_the_reason() {
        for (text, reason) in [
            ("not an address:99999", "port \"99999\""),
            ("not an address:8443", "\"not an address\" is neither"),
            ("1.2.3.4:abc", "port \"abc\""),
            ("1.2.3.4:0", "port \"0\""),
            ("1.2.3.4:", "port \"\""),
            ("fd00::1:99999:x", "in brackets"),
            ("[fd00::1", "no ']'"),
            ("[nope]:1", "not an IPv6"),
            ("[::1]x", "unexpected"),
            ("-bad-:1", "neither"),
            ("999.1.1.1", "neither"),
            ("", "empty"),
        ] {
            let err = ListenAddress::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains("e.g. 10.0.0.1:8443"), "{text}: {err}");
        }
    }
}
