//! `corral remote add`: trust on first contact, as lxc 5.0 does it. The server's certificate
//! is judged (by the user, `--accept-certificate`, or a token's fingerprint) before anything
//! is sent; then, if the server does not trust this client yet, the client's certificate is
//! added to its trust store with the trust password or a certificate add token. Nothing is
//! written here until the server trusts us.

use std::io::{BufRead, Write};
use std::path::Path;

use corral_shared::api::{CertificateAddToken, CertificatesPost};
use corral_shared::client::Client;
use corral_shared::tls::ServerTrust;

use super::first_contact::{Verdict, judge_answer, server_certificate};
use super::{Address, Config, Remote, RemoteError, identity};

/// How the user asked `remote add` to establish trust.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// `--token`: a certificate add token from `corral config trust add`.
    pub token: Option<String>,
    /// `--password`: the server's core.trust_password.
    pub password: Option<String>,
    /// `--accept-certificate`: trust the certificate first seen without asking.
    pub accept_certificate: bool,
}

/// Where answers to questions come from: standard input, in a terminal or a pipe.
pub trait Answers {
    /// One line answering `question` (printed first, without a newline); "" at end of input.
    fn line(&mut self, question: &str) -> Result<String, RemoteError>;
    /// Like [`Answers::line`], without echoing what is typed when it is a terminal.
    fn secret(&mut self, question: &str) -> Result<String, RemoteError>;
}

/// Answers read from this process's standard input; questions go to standard output.
pub struct Stdin;

impl Answers for Stdin {
    fn line(&mut self, question: &str) -> Result<String, RemoteError> {
        let mut out = std::io::stdout();
        let _ = write!(out, "{question}");
        let _ = out.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| RemoteError::Config(format!("cannot read the answer: {e}")))?;
        // A terminal echoed the answer and its newline; a pipe did not, so end the line here.
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            println!();
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    fn secret(&mut self, question: &str) -> Result<String, RemoteError> {
        let echo = EchoOff::new();
        let answer = self.line(question);
        if echo.is_some() {
            println!();
        }
        answer
    }
}

/// Terminal echo turned off while it lives (nothing when standard input is no terminal).
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> Option<EchoOff> {
        // SAFETY: termios is plain data; tcgetattr fills it or fails on a non-terminal.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return None;
        }
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: a termios read from the same descriptor, with one flag cleared.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) };
        Some(EchoOff(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.0) };
    }
}

/// Adds remote `name` at `target` (an address, or a certificate add token) to `config`,
/// establishing trust over HTTPS first, and saves config.yml in `dir`.
pub async fn add(
    dir: &Path,
    config: &mut Config,
    name: &str,
    target: &str,
    options: &AddOptions,
    answers: &mut dyn Answers,
    out: &mut dyn Write,
) -> Result<(), RemoteError> {
    // A taken or malformed name is refused before any contact.
    config.clone().add(name, Remote::local())?;
    let token = match &options.token {
        Some(text) => Some(CertificateAddToken::decode(text).map_err(|e| {
            RemoteError::Trust(format!(
                "{e}; copy the whole token 'corral config trust add NAME' printed on the server"
            ))
        })?),
        None => CertificateAddToken::decode(target).ok(),
    };
    let token_given_as_address = token.is_some() && options.token.is_none();
    let candidates = if token_given_as_address {
        let token = token.as_ref().expect("decoded above");
        token
            .addresses
            .iter()
            .map(|a| match Address::parse(a)? {
                Address::Https(host_port) => Ok(host_port),
                _ => Err(RemoteError::Trust(format!(
                    "the token names {a:?}, which is not an HTTPS address; ask for a new token"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        match Address::parse(target)? {
            Address::Https(host_port) => vec![host_port],
            other => {
                // A socket or SSH: SSH (or file access) authenticates; nothing to exchange.
                if options.password.is_some() || options.token.is_some() {
                    return Err(RemoteError::Refused(format!(
                        "--password and --token are for HTTPS remotes; {} is reached with \
                         {}, so leave them out",
                        other.url(),
                        match other {
                            Address::Ssh(_) => "your SSH keys (ssh-agent, ~/.ssh/config)",
                            _ => "the socket's file permissions",
                        }
                    )));
                }
                config.add(name, Remote::new(&other.url(), other.auth_type()))?;
                return config.save(dir);
            }
        }
    };
    let client_cert = identity::load_or_create(dir, &mut std::io::stderr())?;

    let (host_port, der) = first_reachable(&candidates).await?;
    let fingerprint = corral_shared::fingerprint::of_der(&der);
    if let Some(token) = &token {
        check_token_fingerprint(token, &host_port, &fingerprint)?;
    } else if !options.accept_certificate {
        writeln!(out, "Certificate fingerprint: {fingerprint}").map_err(output)?;
        out.flush().map_err(output)?;
        let answer = answers.line("ok (y/n/[fingerprint])? ")?;
        if let Verdict::Refuse(why) = judge_answer(&answer, &fingerprint) {
            return Err(RemoteError::Trust(why));
        }
    }

    let client = Client::https(
        &host_port,
        &ServerTrust::Fingerprint(fingerprint.clone()),
        Some(&client_cert.identity),
    )
    .map_err(|e| RemoteError::Config(e.to_string()))?;
    if auth(&client).await? != "trusted" {
        let secret = match (&options.token, &token, &options.password) {
            (Some(text), _, _) => text.clone(),
            (None, Some(_), _) => target.to_owned(),
            (None, None, Some(password)) => password.clone(),
            (None, None, None) => {
                answers.secret(&format!("Admin password (or token) for {name}: "))?
            }
        };
        let secret = secret.trim().to_owned();
        if secret.is_empty() {
            return Err(RemoteError::Trust(format!(
                "no password or token given, so {name} was not added; pass --password or \
                 --token, or type one when asked"
            )));
        }
        let pasted_token = CertificateAddToken::decode(&secret).ok();
        if let Some(token) = &pasted_token {
            check_token_fingerprint(token, &host_port, &fingerprint)?;
        }
        let is_token = pasted_token.is_some() || options.token.is_some();
        let post = CertificatesPost {
            name: client_cert.name.clone(),
            kind: "client".into(),
            password: if is_token {
                String::new()
            } else {
                secret.clone()
            },
            trust_token: if is_token { secret } else { String::new() },
            ..CertificatesPost::default()
        };
        client
            .post("/1.0/certificates", &post)
            .await
            .map_err(|e| refused(e, &host_port, is_token))?;
        // The member asks the leader when its own copy does not know us yet, so one
        // answer is the truth.
        if auth(&client).await? != "trusted" {
            return Err(RemoteError::Trust(format!(
                "Server doesn't trust us after authentication; check 'corral config trust list' \
                 on {host_port} for this client ({})",
                client_cert.identity.fingerprint()
            )));
        }
        writeln!(out, "Client certificate now trusted by server: {name}").map_err(output)?;
    }

    identity::pin_server_cert(dir, name, &der)?;
    config.add(name, Remote::new(&Address::Https(host_port).url(), "tls"))?;
    config.save(dir)
}

/// The first address that answers, with the certificate it presented. Each is tried in
/// order, as lxc tries a token's addresses; the error names every failure.
async fn first_reachable(candidates: &[String]) -> Result<(String, Vec<u8>), RemoteError> {
    let mut failures = Vec::new();
    for host_port in candidates {
        match server_certificate(host_port).await {
            Ok(der) => return Ok((host_port.clone(), der)),
            Err(e) => failures.push(e),
        }
    }
    match failures.len() {
        1 => Err(failures.remove(0)),
        _ => Err(RemoteError::Trust(format!(
            "Unable to connect to any of the addresses in the token: {}",
            failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

fn check_token_fingerprint(
    token: &CertificateAddToken,
    host_port: &str,
    presented: &str,
) -> Result<(), RemoteError> {
    if token.fingerprint.eq_ignore_ascii_case(presented) {
        return Ok(());
    }
    Err(RemoteError::Trust(format!(
        "Certificate fingerprint mismatch between certificate token and server {host_port:?}: \
         the token expects {} but the server presented {presented}; nothing was sent to it. \
         Check that the token was issued by this cluster",
        token.fingerprint
    )))
}

/// `GET /1.0`'s `auth`: "trusted" or "untrusted".
async fn auth(client: &Client) -> Result<String, RemoteError> {
    let server: serde_json::Value = client.get("/1.0").await?;
    Ok(server["auth"].as_str().unwrap_or_default().to_owned())
}

/// The server's refusal of the password or token, with what to check.
fn refused(error: corral_shared::client::ClientError, host_port: &str, token: bool) -> RemoteError {
    if error.status().is_none() {
        return RemoteError::Client(error);
    }
    let hint = if token {
        "A token works once and expires: ask for a new one with 'corral config trust add NAME' \
         on the server"
    } else {
        "Check that the server has a trust password ('corral config set core.trust_password \
         SECRET' there) and that you typed it right, or use a token ('corral config trust add \
         NAME' on the server, then 'corral remote add NAME TOKEN')"
    };
    RemoteError::Trust(format!(
        "{error}: the server at {host_port} did not trust this client. {hint}"
    ))
}

fn output(e: std::io::Error) -> RemoteError {
    RemoteError::Config(format!("cannot write the output: {e}"))
}
