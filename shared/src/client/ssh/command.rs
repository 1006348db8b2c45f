//! The `ssh` command line that reaches a remote's daemon: the system `ssh` (or the words of
//! `CORRAL_SSH_COMMAND`, as git reads `GIT_SSH_COMMAND`), the target, and `corral
//! dial-stdio` to run on the far side.

use super::SshTarget;

/// The variable that replaces the `ssh` command, e.g. `ssh -F ./ssh_config`.
pub const SSH_COMMAND_VAR: &str = "CORRAL_SSH_COMMAND";

/// The program and arguments to run for `target`: `command` is the words that start it
/// (`CORRAL_SSH_COMMAND`, or `ssh`); `batch` adds `-o BatchMode=yes`, for when no terminal
/// is there to answer a prompt (so an unknown host key fails instead of waiting).
pub fn ssh_argv(command: &[String], target: &SshTarget, batch: bool) -> Vec<String> {
    let mut argv = command.to_vec();
    if batch {
        argv.extend(["-o".into(), "BatchMode=yes".into()]);
    }
    if let Some(port) = target.port {
        argv.extend(["-p".into(), port.to_string()]);
    }
    // `--` ends ssh's options: whatever follows is the destination and the command.
    argv.push("--".into());
    argv.push(destination(target));
    argv.push(remote_command(target));
    argv
}

/// `[USER@]HOST`, as ssh takes it.
pub fn destination(target: &SshTarget) -> String {
    match &target.user {
        Some(user) => format!("{user}@{}", target.host),
        None => target.host.clone(),
    }
}

/// What a person types to reach the same place by hand (`ssh -p 2222 root@lab`).
pub fn by_hand(target: &SshTarget) -> String {
    match target.port {
        Some(port) => format!("ssh -p {port} {}", destination(target)),
        None => format!("ssh {}", destination(target)),
    }
}

/// The command the far side's shell runs: `corral dial-stdio [--dir PATH]`, quoted for it.
fn remote_command(target: &SshTarget) -> String {
    match &target.dir {
        Some(dir) => format!("corral dial-stdio --dir {}", shell_quote(dir)),
        None => "corral dial-stdio".into(),
    }
}

/// `text` as one word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,%".contains(c));
    if plain {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The words of `CORRAL_SSH_COMMAND` (or `ssh` when it is unset or blank), split as a shell
/// splits simple words: blanks separate, quotes group, a backslash escapes.
pub fn command_words(setting: Option<&str>) -> Result<Vec<String>, String> {
    let Some(text) = setting.filter(|t| !t.trim().is_empty()) else {
        return Ok(vec!["ssh".into()]);
    };
    split_words(text).map_err(|why| {
        format!("{SSH_COMMAND_VAR}={text:?} {why}; write it as a shell command, e.g. \"ssh -F ./ssh_config\"")
    })
}

/// Splits `text` into words as a POSIX shell does for plain words (no expansions).
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("has a ' that is never closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash escapes only these.
                        Some('\\') => match chars.next() {
                            Some(e @ ('\\' | '"' | '$' | '`')) => w.push(e),
                            Some('\n') => {}
                            Some(other) => {
                                w.push('\\');
                                w.push(other);
                            }
                            None => return Err("has a \" that is never closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("has a \" that is never closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("ends with a lone backslash".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_ssh_command_splits_as_a_shell_would() {
        let cases: [(Option<&str>, &[&str]); 8] = [
            (None, &["ssh"]),
            (Some("   "), &["ssh"]),
            (Some("ssh -F ./ssh_config"), &["ssh", "-F", "./ssh_config"]),
            (Some("  ssh\t-v  "), &["ssh", "-v"]),
            (
                Some("'/opt/my ssh' -F \"a b\""),
                &["/opt/my ssh", "-F", "a b"],
            ),
            (Some(r"ssh -o a\ b"), &["ssh", "-o", "a b"]),
            (Some(r#"ssh "x\"y" 'it''s'"#), &["ssh", "x\"y", "its"]),
            (Some("ssh ''"), &["ssh", ""]),
        ];
        for (setting, expected) in cases {
            assert_eq!(
                command_words(setting).unwrap(),
                words(expected),
                "{setting:?}"
            );
        }
    }

    #[test]
    fn a_broken_ssh_command_says_what_is_wrong() {
        for (setting, says) in [
            ("ssh 'x", "' that is never closed"),
            ("ssh \"x", "\" that is never closed"),
            ("ssh x\\", "lone backslash"),
        ] {
            let error = command_words(Some(setting)).unwrap_err();
            assert!(error.contains(SSH_COMMAND_VAR), "{error}");
            assert!(error.contains(says), "{setting}: {error}");
        }
    }

    #[test]
    fn the_command_line_names_port_user_host_and_the_far_sides_directory() {
        let ssh = words(&["ssh"]);
        let cases: [(&str, bool, &[&str]); 4] = [
            (
                "ssh://lab",
                false,
                &["ssh", "--", "lab", "corral dial-stdio"],
            ),
            (
                "ssh://root@lab:2222",
                true,
                &[
                    "ssh",
                    "-o",
                    "BatchMode=yes",
                    "-p",
                    "2222",
                    "--",
                    "root@lab",
                    "corral dial-stdio",
                ],
            ),
            (
                "ssh://lab/var/lib/corral",
                false,
                &[
                    "ssh",
                    "--",
                    "lab",
                    "corral dial-stdio --dir /var/lib/corral",
                ],
            ),
            (
                "ssh://lab/srv/it's here",
                false,
                &[
                    "ssh",
                    "--",
                    "lab",
                    r"corral dial-stdio --dir '/srv/it'\''s here'",
                ],
            ),
        ];
        for (url, batch, expected) in cases {
            let target = SshTarget::parse(url).unwrap();
            assert_eq!(ssh_argv(&ssh, &target, batch), words(expected), "{url}");
        }
        let target = SshTarget::parse("ssh://admin@lab:2200/x").unwrap();
        assert_eq!(by_hand(&target), "ssh -p 2200 admin@lab");
    }
}
