//! What an SSH remote's address names: `ssh://[USER@]HOST[:PORT][/PATH]`.

use std::fmt;
use std::sync::Arc;

/// Where an SSH remote is: what `ssh://[USER@]HOST[:PORT][/PATH]` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The user to log in as; ssh's own default (its config, then the local user) when absent.
    pub user: Option<String>,
    /// The host, as ssh resolves it (a name from `~/.ssh/config` works).
    pub host: String,
    /// The port; ssh's own default when absent.
    pub port: Option<u16>,
    /// The far side's `CORRAL_DIR`; its default when absent.
    pub dir: Option<String>,
    /// The words that start ssh, when a program (a test, a tool) gives them itself; `None`
    /// (as parsed): `CORRAL_SSH_COMMAND`, else `ssh`. Not part of the address.
    pub ssh_command: Option<Arc<[String]>>,
}

impl SshTarget {
    /// Reads `ssh://[USER@]HOST[:PORT][/PATH]`, naming what is wrong when it cannot.
    pub fn parse(url: &str) -> Result<SshTarget, String> {
        let rest = url.strip_prefix("ssh://").ok_or_else(|| {
            format!("{url:?} is not an SSH address; write ssh://[USER@]HOST[:PORT][/PATH]")
        })?;
        let (authority, dir) = match rest.find('/') {
            Some(at) => (&rest[..at], Some(rest[at..].to_owned())),
            None => (rest, None),
        };
        let dir = dir.filter(|d| d != "/");
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) if !user.is_empty() => (Some(user.to_owned()), host_port),
            Some(_) => {
                return Err(format!(
                    "{url:?} has an empty user before '@'; write ssh://USER@HOST or leave the user out"
                ));
            }
            None => (None, authority),
        };
        let (host, port) = split_port(host_port).map_err(|e| format!("{url:?}: {e}"))?;
        if host.is_empty() {
            return Err(format!(
                "{url:?} names no host; write ssh://[USER@]HOST[:PORT][/PATH]"
            ));
        }
        // ssh would read a leading '-' as one of its options.
        if host.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err(format!(
                "{url:?}: a user or host may not start with '-'; write ssh://[USER@]HOST"
            ));
        }
        Ok(SshTarget {
            user,
            host,
            port,
            dir,
            ssh_command: None,
        })
    }

    /// The same target reached by starting ssh with `words` (`["ssh", "-F", "config"]`)
    /// rather than as `CORRAL_SSH_COMMAND` says.
    pub fn with_ssh_command(mut self, words: Vec<String>) -> SshTarget {
        self.ssh_command = Some(words.into());
        self
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("the IPv6 address {text:?} has no closing ']'"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("the port {p:?} is not a number from 1 to 65535"))
        })
        .transpose()?;
    Ok((host.to_owned(), port))
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(dir) = &self.dir {
            f.write_str(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_addresses_parse_and_print_back() {
        type Case = (
            &'static str,
            Option<&'static str>,
            &'static str,
            Option<u16>,
            Option<&'static str>,
        );
        let cases: [Case; 6] = [
            ("ssh://lab", None, "lab", None, None),
            ("ssh://admin@lab", Some("admin"), "lab", None, None),
            (
                "ssh://admin@10.0.0.1:2222",
                Some("admin"),
                "10.0.0.1",
                Some(2222),
                None,
            ),
            (
                "ssh://root@lab/var/lib/corral",
                Some("root"),
                "lab",
                None,
                Some("/var/lib/corral"),
            ),
            (
                "ssh://[::1]:22/srv/c",
                None,
                "::1",
                Some(22),
                Some("/srv/c"),
            ),
            ("ssh://lab:2200", None, "lab", Some(2200), None),
        ];
        for (url, user, host, port, dir) in cases {
            let target = SshTarget::parse(url).unwrap();
            assert_eq!(target.user.as_deref(), user, "{url}");
            assert_eq!(target.host, host, "{url}");
            assert_eq!(target.port, port, "{url}");
            assert_eq!(target.dir.as_deref(), dir, "{url}");
            assert_eq!(target.to_string(), url);
        }
    }

    #[test]
    fn bad_ssh_addresses_say_what_is_wrong() {
        for (url, says) in [
            ("https://lab", "is not an SSH address"),
            ("ssh://@lab", "empty user"),
            ("ssh://", "names no host"),
            ("ssh://lab:0", "not a number from 1 to 65535"),
            ("ssh://lab:x", "not a number from 1 to 65535"),
            ("ssh://[::1", "no closing"),
            ("ssh://-oProxyCommand=x", "may not start with '-'"),
            ("ssh://-x@lab", "may not start with '-'"),
        ] {
            let error = SshTarget::parse(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
