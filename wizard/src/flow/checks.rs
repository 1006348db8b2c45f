//! The checks typed answers must pass, each refusing with what is wrong and what would
//! do, and what the wizard needs to know about the machine it runs on.

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_shared::preseed::{ClusterPreseed, JoinToken, NetworkPreseed, Preseed};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::prompt::Check;

/// Where the wizard reads the time from: the system clock, or one a test moves.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl Clock {
    /// The system clock (UTC).
    pub fn system() -> Self {
        Self(Arc::new(OffsetDateTime::now_utc))
    }

    /// A clock reading whatever `f` returns, for tests.
    pub fn new(f: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The time now: read when a check runs, not when the wizard started, so a token that
    /// expired while the questions were asked is refused when it is pasted.
    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// Whether this machine can listen on an address: asked when the address is typed, so a
/// wrong one is refused at its question rather than after every other one.
#[derive(Clone)]
pub struct ListenCheck(Check);

impl ListenCheck {
    /// Binds the address for a moment; `served` (the daemon's own, canonical) are fine as is.
    pub fn system(served: Vec<String>) -> Self {
        Self(Arc::new(move |address: &str| {
            if served.iter().any(|s| s == address) {
                return Ok(());
            }
            std::net::TcpListener::bind(address).map(drop).map_err(|e| {
                format!(
                    "Invalid address: cannot listen on {address}: {e}; give an address of this \
                     machine that no other program uses"
                )
            })
        }))
    }

    /// A check answering with `f`, for tests.
    pub fn new(f: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Whether `address` (canonical `host:port`) can be listened on, or why not.
    pub fn check(&self, address: &str) -> Result<(), String> {
        (self.0)(address)
    }
}

impl std::fmt::Debug for ListenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenCheck")
    }
}

/// What the wizard knows of the machine: defaults and the clock.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The default member name.
    pub hostname: String,
    /// The default address (`host:port`).
    pub default_address: String,
    /// The clock, for token expiry.
    pub clock: Clock,
    /// The member name, when the server is already clustered (nothing can be applied then).
    pub clustered_as: Option<String>,
    /// Whether this server's own address can be listened on.
    pub can_listen: ListenCheck,
}

impl Environment {
    /// This machine: its host name, the address of its default route, the clock.
    pub fn detect() -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "corral".into());
        Self {
            hostname,
            default_address: format!("{}:8443", default_ip()),
            clock: Clock::system(),
            clustered_as: None,
            can_listen: ListenCheck::system(Vec::new()),
        }
    }
}

/// The address this machine reaches the world from: connecting a UDP socket sends nothing
/// but picks the source address of the default route.
fn default_ip() -> String {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr());
    match socket {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip().to_string(),
        _ => "127.0.0.1".into(),
    }
}

/// `yes`/`y`/`no`/`n` (any case) as a boolean; anything else is `None`.
pub fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" => Some(true),
        "no" | "n" => Some(false),
        _ => None,
    }
}

/// Whether a token's expiry time has passed. An empty time or LXD's zero time (year 1)
/// means it never expires; an unreadable one is treated as not expired (the cluster decides).
pub fn token_expired(token: &JoinToken, now: OffsetDateTime) -> bool {
    match expiry(token) {
        Some(at) => at <= now,
        None => false,
    }
}

fn expiry(token: &JoinToken) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(&token.expires_at, &Rfc3339)
        .ok()
        .filter(|t| t.year() > 1)
}

/// A token pasted: decoded, and refused if it has expired.
pub fn check_token(text: &str, now: OffsetDateTime) -> Result<JoinToken, String> {
    let token = JoinToken::decode(text).map_err(|e| format!("Invalid input: {e}"))?;
    if token_expired(&token, now) {
        return Err(format!(
            "Invalid input: this join token for \"{}\" expired at {}; ask for a new one with \
             'corral cluster add {}' on a member",
            token.server_name, token.expires_at, token.server_name
        ));
    }
    Ok(token)
}

/// What a token says, shown once it is accepted.
pub fn describe_token(token: &JoinToken) -> String {
    let expires = match expiry(token) {
        Some(_) => format!("expires at {}", token.expires_at),
        None => "never expires".into(),
    };
    format!(
        "Join token for member \"{}\", cluster members {}; it {expires}.",
        token.server_name,
        token.addresses.join(", ")
    )
}

fn check(f: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) -> Check {
    Arc::new(f)
}

/// The pasted token, checked against the clock as it is pasted.
pub fn token(clock: Clock) -> Check {
    check(move |text| check_token(text, clock.now()).map(|_| ()))
}

/// yes, no, or the token itself.
pub fn token_or_yes_no(clock: Clock) -> Check {
    check(move |text| {
        if yes_no(text).is_some() {
            return Ok(());
        }
        check_token(text, clock.now())
            .map(|_| ())
            .map_err(|e| format!("{e} (answer yes, no, or paste the token)"))
    })
}

/// A fingerprint as people paste it: case and `:` separators ignored.
pub fn normalise_fingerprint(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// yes, no, or a fingerprint (64 hex digits).
pub fn fingerprint_or_yes_no() -> Check {
    check(|text| {
        let fp = normalise_fingerprint(text);
        if yes_no(text).is_some() || (fp.len() == 64 && fp.chars().all(|c| c.is_ascii_hexdigit())) {
            Ok(())
        } else {
            Err("Invalid input: answer yes, no, or paste the fingerprint (64 hex digits)".into())
        }
    })
}

/// Something, anything.
pub fn not_empty(why: &'static str) -> Check {
    check(move |text| {
        if text.is_empty() {
            Err(why.into())
        } else {
            Ok(())
        }
    })
}

/// A `host[:port]` address; one that others must reach cannot be a wildcard.
pub fn address(reached_by_others: bool) -> Check {
    check(move |text| {
        let parsed = corral_shared::config::ListenAddress::parse(text)?;
        if reached_by_others && parsed.is_wildcard() {
            return Err(
                "Invalid address: other members cannot reach a wildcard address; give this \
                 server's own address, e.g. 10.0.0.1:8443"
                    .into(),
            );
        }
        Ok(())
    })
}

/// This server's own address: valid as [`address`] says, and one it can listen on.
pub fn own_address(reached_by_others: bool, can_listen: ListenCheck) -> Check {
    let valid = address(reached_by_others);
    check(move |text| {
        valid(text)?;
        let canonical = corral_shared::config::canonical_address(text)?;
        can_listen.check(&canonical)
    })
}

/// Runs the preseed's own rules on a preseed built around one answer, keeping the problems
/// under `path`: the wizard refuses exactly what `--preseed` would.
fn by_preseed_rules(build: fn(&str) -> Preseed, path: &'static str) -> Check {
    check(move |text| match build(text).validate() {
        Ok(()) => Ok(()),
        Err(violations) => {
            let found: Vec<String> = violations
                .iter()
                .filter(|v| v.path_string().starts_with(path))
                .map(|v| v.message())
                .collect();
            if found.is_empty() {
                Ok(())
            } else {
                Err(found.join("; "))
            }
        }
    })
}

/// A member name.
pub fn member_name() -> Check {
    by_preseed_rules(
        |name| Preseed {
            config: BTreeMap::from([("core.https_address".into(), "127.0.0.1:8443".into())]),
            cluster: Some(ClusterPreseed {
                server_name: name.into(),
                enabled: true,
                ..Default::default()
            }),
            ..Default::default()
        },
        "cluster.server_name",
    )
}

/// A storage pool name.
pub fn pool_name() -> Check {
    check(|name| corral_shared::preseed::check_name("storage pool", name))
}

fn bridge(name: &str, key: &str, value: &str) -> Preseed {
    Preseed {
        networks: vec![NetworkPreseed {
            name: name.into(),
            kind: "bridge".into(),
            config: if key.is_empty() {
                BTreeMap::new()
            } else {
                BTreeMap::from([(key.to_owned(), value.to_owned())])
            },
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A bridge name.
pub fn network_name() -> Check {
    by_preseed_rules(|name| bridge(name, "", ""), "networks[0].name")
}

/// A bridge's `ipv4.address` or `ipv6.address`.
pub fn bridge_address(key: &'static str) -> Check {
    if key == "ipv4.address" {
        by_preseed_rules(
            |v| bridge("corralbr0", "ipv4.address", v),
            "networks[0].config",
        )
    } else {
        by_preseed_rules(
            |v| bridge("corralbr0", "ipv6.address", v),
            "networks[0].config",
        )
    }
}
