//! `config.yml`: the remotes this user knows, shaped like lxc's, and the changes
//! `corral remote ...` makes to them. Every change is a pure function of the old config;
//! reading and writing the file are the only I/O here.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RemoteError;

/// The remote that is always there: this machine's daemon, through its unix socket.
pub const LOCAL: &str = "local";

/// `local`'s address: the socket found through `CORRAL_DIR`, as today.
pub const LOCAL_ADDR: &str = "unix://";

/// The file's name inside the config directory.
pub const CONFIG_FILE: &str = "config.yml";

/// The user's config directory: `CORRAL_CONF`, else `XDG_CONFIG_HOME/corral`, else
/// `HOME/.config/corral`; `None` when none of them is set.
pub fn config_dir(
    corral_conf: Option<&OsStr>,
    xdg_config_home: Option<&OsStr>,
    home: Option<&OsStr>,
) -> Option<PathBuf> {
    let set = |v: Option<&OsStr>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    set(corral_conf)
        .or_else(|| set(xdg_config_home).map(|d| d.join("corral")))
        .or_else(|| set(home).map(|h| h.join(".config").join("corral")))
}

/// The config directory of this process's environment.
pub fn config_dir_from_env() -> Result<PathBuf, RemoteError> {
    config_dir(
        std::env::var_os("CORRAL_CONF").as_deref(),
        std::env::var_os("XDG_CONFIG_HOME").as_deref(),
        std::env::var_os("HOME").as_deref(),
    )
    .ok_or_else(|| {
        RemoteError::Config(
            "cannot tell where corral's configuration lives: set CORRAL_CONF (or HOME) to a \
             directory"
                .into(),
        )
    })
}

/// One remote, as lxc's config.yml writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    /// `unix://[PATH]`, `https://HOST:PORT` or `ssh://[USER@]HOST[:PORT][/PATH]`.
    pub addr: String,
    /// `tls` for HTTPS, `ssh` for SSH; empty for the unix socket (lxc: "file access").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_type: String,
    /// The API spoken: LXD's, whatever carries it.
    #[serde(default = "lxd_protocol")]
    pub protocol: String,
    /// Whether it is a public image server (never, for Corral; kept for lxc's shape).
    #[serde(default)]
    pub public: bool,
    /// Built in: cannot be removed, renamed or pointed elsewhere. Never written to the file.
    #[serde(skip)]
    pub r#static: bool,
}

fn lxd_protocol() -> String {
    "lxd".into()
}

impl Remote {
    /// A remote at `addr` authenticated as `auth_type` says.
    pub fn new(addr: &str, auth_type: &str) -> Remote {
        Remote {
            addr: addr.to_owned(),
            auth_type: auth_type.to_owned(),
            protocol: lxd_protocol(),
            public: false,
            r#static: false,
        }
    }

    /// The built-in `local`.
    pub fn local() -> Remote {
        Remote {
            r#static: true,
            ..Remote::new(LOCAL_ADDR, "")
        }
    }

    /// The AUTH TYPE column: lxc's "file access" for a socket.
    pub fn auth_label(&self) -> &str {
        match self.auth_type.as_str() {
            "" if self.addr.starts_with("unix:") => "file access",
            "" => "tls",
            other => other,
        }
    }
}

/// The whole of config.yml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The remote used when a command names none.
    #[serde(rename = "default-remote", default = "local_name")]
    pub default_remote: String,
    /// Every remote by name, `local` included once loaded.
    #[serde(default)]
    pub remotes: BTreeMap<String, Remote>,
    /// Command aliases, as lxc keeps them (Corral reads none yet, but keeps the user's).
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
}

fn local_name() -> String {
    LOCAL.into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_remote: local_name(),
            remotes: BTreeMap::from([(LOCAL.to_owned(), Remote::local())]),
            aliases: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads config.yml text; `local` is put back whatever the file says about it.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, RemoteError> {
        let mut config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                RemoteError::Config(format!(
                    "{} is not a corral config.yml ({e}); fix it or move it away",
                    origin.display()
                ))
            })?
        };
        config.remotes.insert(LOCAL.to_owned(), Remote::local());
        Ok(config)
    }

    /// The text written to config.yml: every remote but the built-in ones.
    pub fn render(&self) -> String {
        let mut written = self.clone();
        written.remotes.retain(|_, r| !r.r#static);
        serde_yaml::to_string(&written).expect("a config always serialises")
    }

    /// Loads `dir/config.yml`; no file means the default (only `local`).
    pub fn load(dir: &Path) -> Result<Config, RemoteError> {
        let path = dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(RemoteError::io(&path, e)),
        }
    }

    /// Writes `dir/config.yml` atomically (a whole new file renamed over the old one), making
    /// the directory private to this user first.
    pub fn save(&self, dir: &Path) -> Result<(), RemoteError> {
        ensure_private_dir(dir)?;
        let path = dir.join(CONFIG_FILE);
        write_atomically(&path, self.render().as_bytes(), 0o600)
    }

    /// The remote called `name`, or lxc's error when there is none.
    pub fn remote(&self, name: &str) -> Result<&Remote, RemoteError> {
        self.remotes
            .get(name)
            .ok_or_else(|| RemoteError::NoSuchRemote(name.to_owned()))
    }

    /// Adds `remote` under `name`, refusing names with ':' and names already taken.
    pub fn add(&mut self, name: &str, remote: Remote) -> Result<(), RemoteError> {
        check_new_name(self, name)?;
        self.remotes.insert(name.to_owned(), remote);
        Ok(())
    }

    /// Removes `name`; neither a built-in nor the default remote may go.
    pub fn remove(&mut self, name: &str) -> Result<(), RemoteError> {
        self.changeable(name)?;
        if self.default_remote == name {
            return Err(RemoteError::Refused(format!(
                "Can't remove the default remote; switch to another first \
                 ('corral remote switch {LOCAL}')"
            )));
        }
        self.remotes.remove(name);
        Ok(())
    }

    /// Renames `old` to `new`, keeping it the default if it was.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), RemoteError> {
        self.changeable(old)?;
        check_new_name(self, new)?;
        let remote = self.remotes.remove(old).expect("checked above");
        self.remotes.insert(new.to_owned(), remote);
        if self.default_remote == old {
            self.default_remote = new.to_owned();
        }
        Ok(())
    }

    /// Makes `name` the default remote.
    pub fn switch(&mut self, name: &str) -> Result<(), RemoteError> {
        self.remote(name)?;
        self.default_remote = name.to_owned();
        Ok(())
    }

    /// Points `name` at `addr`.
    pub fn set_url(&mut self, name: &str, addr: &str) -> Result<(), RemoteError> {
        self.changeable(name)?;
        self.remotes.get_mut(name).expect("checked above").addr = addr.to_owned();
        Ok(())
    }

    fn changeable(&self, name: &str) -> Result<&Remote, RemoteError> {
        let remote = self.remote(name)?;
        if remote.r#static {
            return Err(RemoteError::Refused(format!(
                "Remote {name} is static and cannot be modified"
            )));
        }
        Ok(remote)
    }
}

fn check_new_name(config: &Config, name: &str) -> Result<(), RemoteError> {
    if name.is_empty() || name.contains(':') || name.contains('/') {
        return Err(RemoteError::Refused(format!(
            "Invalid remote name {name:?}: remote names may not be empty or contain ':' or '/'"
        )));
    }
    if let Some(existing) = config.remotes.get(name) {
        return Err(RemoteError::Refused(format!(
            "Remote {name} exists as <{}>; pick another name, or 'corral remote remove {name}' \
             first",
            existing.addr
        )));
    }
    Ok(())
}

/// Creates `dir` (and its parents) and makes it readable by this user only.
pub fn ensure_private_dir(dir: &Path) -> Result<(), RemoteError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| RemoteError::io(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| RemoteError::io(dir, e))
}

/// Writes `path` through a temporary file renamed over it, so a reader never sees half.
pub fn write_atomically(path: &Path, body: &[u8], mode: u32) -> Result<(), RemoteError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let io = |e| RemoteError::io(path, e);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(body).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_prod() -> Config {
        let mut config = Config::default();
        config
            .add("prod", Remote::new("https://10.0.0.1:8443", "tls"))
            .unwrap();
        config
    }

    #[test]
    fn the_config_dir_follows_the_environment() {
        let os = |s: &'static str| Some(OsStr::new(s));
        type Env = Option<&'static OsStr>;
        let cases: [(Env, Env, Env, Option<&str>); 5] = [
            (os("/c"), os("/x"), os("/h"), Some("/c")),
            (None, os("/x"), os("/h"), Some("/x/corral")),
            (None, None, os("/h"), Some("/h/.config/corral")),
            (os(""), os(""), os("/h"), Some("/h/.config/corral")),
            (None, None, None, None),
        ];
        for (conf, xdg, home, expected) in cases {
            assert_eq!(
                config_dir(conf, xdg, home),
                expected.map(PathBuf::from),
                "{conf:?} {xdg:?} {home:?}"
            );
        }
    }

    #[test]
    fn the_file_round_trips_without_the_built_in_local() {
        let mut config = with_prod();
        config
            .add("lab", Remote::new("ssh://admin@lab:2222/srv/corral", "ssh"))
            .unwrap();
        config.switch("prod").unwrap();
        let text = config.render();
        assert!(text.starts_with("default-remote: prod\n"), "{text}");
        assert!(!text.contains("local"), "{text}");
        assert!(
            text.contains("  prod:\n    addr: https://10.0.0.1:8443\n"),
            "{text}"
        );
        let back = Config::parse(&text, Path::new("config.yml")).unwrap();
        assert_eq!(back, config);
        assert!(back.remote(LOCAL).unwrap().r#static);
    }

    #[test]
    fn lxc_s_own_file_is_read() {
        let text = "default-remote: foo\nremotes:\n  foo:\n    addr: https://10.0.2.4:8443\n    \
                    auth_type: tls\n    project: default\n    protocol: lxd\n    public: false\n  \
                    local:\n    addr: unix:///elsewhere\naliases: {}\n";
        let config = Config::parse(text, Path::new("c")).unwrap();
        assert_eq!(config.default_remote, "foo");
        assert_eq!(config.remote("foo").unwrap().auth_label(), "tls");
        // `local` is built in, whatever the file says.
        assert_eq!(config.remote(LOCAL).unwrap(), &Remote::local());
        let error = Config::parse("remotes: [1, 2]", Path::new("/c/config.yml")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("/c/config.yml is not a corral config.yml")
        );
    }

    #[test]
    fn changes_follow_lxc_s_rules() {
        type Change = fn(&mut Config) -> Result<(), RemoteError>;
        let cases: [(&str, Change, Option<&str>); 12] = [
            (
                "add again",
                |c| c.add("prod", Remote::local()),
                Some("Remote prod exists as <https://10.0.0.1:8443>"),
            ),
            (
                "add colon",
                |c| c.add("a:b", Remote::local()),
                Some("may not be empty or contain ':'"),
            ),
            (
                "remove local",
                |c| c.remove(LOCAL),
                Some("Remote local is static and cannot be modified"),
            ),
            (
                "rename local",
                |c| c.rename(LOCAL, "x"),
                Some("Remote local is static"),
            ),
            (
                "set-url local",
                |c| c.set_url(LOCAL, "unix:///x"),
                Some("Remote local is static"),
            ),
            (
                "remove missing",
                |c| c.remove("nope"),
                Some("Remote nope doesn't exist"),
            ),
            (
                "switch missing",
                |c| c.switch("nope"),
                Some("Remote nope doesn't exist"),
            ),
            (
                "rename onto another",
                |c| c.rename("prod", LOCAL),
                Some("Remote local exists"),
            ),
            (
                "remove default",
                |c| {
                    c.switch("prod")?;
                    c.remove("prod")
                },
                Some("Can't remove the default remote"),
            ),
            (
                "rename default",
                |c| {
                    c.switch("prod")?;
                    c.rename("prod", "live")?;
                    (c.default_remote == "live")
                        .then_some(())
                        .ok_or(RemoteError::Config("default lost".into()))
                },
                None,
            ),
            (
                "set-url",
                |c| {
                    c.set_url("prod", "https://10.0.0.2:8443")?;
                    (c.remotes["prod"].addr == "https://10.0.0.2:8443")
                        .then_some(())
                        .ok_or(RemoteError::Config("not set".into()))
                },
                None,
            ),
            (
                "remove",
                |c| {
                    c.remove("prod")?;
                    (!c.remotes.contains_key("prod"))
                        .then_some(())
                        .ok_or(RemoteError::Config("still there".into()))
                },
                None,
            ),
        ];
        for (what, change, error) in cases {
            let mut config = with_prod();
            let before = config.clone();
            match (change(&mut config), error) {
                (Ok(()), None) => {}
                (Err(e), Some(says)) => {
                    assert!(e.to_string().contains(says), "{what}: {e}");
                    if what != "remove default" {
                        assert_eq!(config, before, "{what}: a refused change changed nothing");
                    }
                }
                (result, _) => panic!("{what}: {result:?}"),
            }
        }
    }

    #[test]
    fn saving_is_private_and_loading_nothing_is_local_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        assert_eq!(Config::load(&conf).unwrap(), Config::default());
        with_prod().save(&conf).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&conf), 0o700);
        assert_eq!(mode(&conf.join(CONFIG_FILE)), 0o600);
        assert_eq!(Config::load(&conf).unwrap(), with_prod());
        assert!(!conf.join("config.tmp").exists());
    }
}
