//! First contact with an HTTPS server: the certificate it presents, and the user's verdict
//! on its fingerprint ("ok (y/n/[fingerprint])?"), before anything is sent to it.

use std::time::Duration;

use corral_shared::tls::{ServerTrust, client_config};

use super::RemoteError;

/// How long a first contact may take before it is given up.
pub const CONTACT_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate (DER) the server at `host_port` presents. Nothing is sent but the TLS
/// handshake, and no client certificate is shown.
pub async fn server_certificate(host_port: &str) -> Result<Vec<u8>, RemoteError> {
    let unreachable = |why: String| RemoteError::Unreachable {
        address: host_port.to_owned(),
        why,
    };
    let tls = client_config(&ServerTrust::Any, None, &[b"http/1.1"])
        .map_err(|e| unreachable(e.to_string()))?;
    let tcp = tokio::time::timeout(CONTACT_TIMEOUT, tokio::net::TcpStream::connect(host_port))
        .await
        .map_err(|_| unreachable(format!("no answer within {}s", CONTACT_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(e.to_string()))?;
    let handshake =
        tokio_rustls::TlsConnector::from(tls.config.clone()).connect(tls.server_name.clone(), tcp);
    tokio::time::timeout(CONTACT_TIMEOUT, handshake)
        .await
        .map_err(|_| {
            unreachable(format!(
                "the TLS handshake did not finish within {}s",
                CONTACT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| unreachable(format!("TLS handshake failed: {e}")))?;
    tls.seen_certificate()
        .ok_or_else(|| unreachable("it presented no certificate".into()))
}

/// What the user answered to "ok (y/n/[fingerprint])?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// "y", "yes", or the server's own fingerprint pasted.
    Accept,
    /// Anything else; the reason is the error to show.
    Refuse(String),
}

/// Judges `answer` against the server's `fingerprint` (lowercase hex). A pasted fingerprint
/// may carry colons, spaces or capitals; it must be the whole of the server's.
pub fn judge_answer(answer: &str, fingerprint: &str) -> Verdict {
    let answer = answer.trim();
    if answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes") {
        return Verdict::Accept;
    }
    let pasted: String = answer
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    let looks_pasted = pasted.len() >= 16 && pasted.chars().all(|c| c.is_ascii_hexdigit());
    if looks_pasted
        && corral_shared::fingerprint::constant_time_eq(pasted.as_bytes(), fingerprint.as_bytes())
    {
        return Verdict::Accept;
    }
    if looks_pasted {
        return Verdict::Refuse(format!(
            "Certificate fingerprint mismatch: you expected {pasted} but the server presented \
             {fingerprint}; nothing was sent to it. Check the address, and the fingerprint with \
             the server's administrator ('corral query /1.0' there shows it)"
        ));
    }
    Verdict::Refuse(
        "Server certificate NACKed by user; nothing was sent to it (answer y, or paste the \
         fingerprint you expect, to accept it)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_accept_only_yes_or_the_servers_own_fingerprint() {
        let fp = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
        let upper_with_colons = fp
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        let other = "ff".repeat(32);
        let cases: [(&str, Option<&str>); 11] = [
            ("y", None),
            ("Y\n", None),
            ("yes", None),
            (fp, None),
            (&upper_with_colons, None),
            (&format!("  {fp}  \n"), None),
            (
                &other,
                Some("Certificate fingerprint mismatch: you expected ffff"),
            ),
            (&fp[..32], Some("Certificate fingerprint mismatch")),
            ("n", Some("NACKed by user")),
            ("", Some("NACKed by user")),
            ("yellow", Some("NACKed by user")),
        ];
        for (answer, refused) in cases {
            match (judge_answer(answer, fp), refused) {
                (Verdict::Accept, None) => {}
                (Verdict::Refuse(why), Some(says)) => {
                    assert!(why.contains(says), "{answer:?}: {why}");
                    assert!(why.contains("nothing was sent"), "{answer:?}: {why}");
                }
                (verdict, _) => panic!("{answer:?}: {verdict:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_address_nobody_listens_on_is_named() {
        // Port 1 on loopback: nothing listens there.
        let error = server_certificate("127.0.0.1:1")
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("127.0.0.1:1"), "{error}");
    }
}
