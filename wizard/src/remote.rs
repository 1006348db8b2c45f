//! What the wizard asks an existing cluster member over the network: the certificate it
//! presents (to show and compare fingerprints) and the member-specific questions its
//! `GET /1.0/cluster` lists. Behind the [`Remote`] trait so the flow is tested offline.

use std::time::Duration;

use corral_shared::api::{Cluster, MemberConfigKey};
use corral_shared::client::{Client, ClientError};
use corral_shared::tls::{ServerTrust, client_config};

/// A certificate a server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Its DER bytes.
    pub der: Vec<u8>,
    /// Lowercase hex SHA-256 of the DER.
    pub fingerprint: String,
}

impl Certificate {
    /// A certificate from its DER bytes.
    pub fn from_der(der: Vec<u8>) -> Self {
        let fingerprint = corral_shared::fingerprint::of_der(&der);
        Self { der, fingerprint }
    }

    /// The certificate as PEM, as a preseed's `cluster_certificate` holds it.
    pub fn pem(&self) -> String {
        let b64 = corral_shared::preseed::base64::encode(&self.der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }
}

/// The network steps of the flow.
pub trait Remote {
    /// The certificate the server at `address` (`host:port`) presents.
    fn certificate(&self, address: &str) -> Result<Certificate, String>;
    /// The member-specific keys the cluster at `address` asks joiners for; the server must
    /// present the certificate with `fingerprint`.
    fn member_config(
        &self,
        address: &str,
        fingerprint: &str,
    ) -> Result<Vec<MemberConfigKey>, String>;
}

/// The real network: TLS with Corral's one client configuration, no client certificate
/// (neither call needs trust).
#[derive(Debug, Clone)]
pub struct TlsRemote {
    /// Bound on each call (connect, handshake and answer).
    pub timeout: Duration,
}

impl Default for TlsRemote {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
        }
    }
}

impl Remote for TlsRemote {
    fn certificate(&self, address: &str) -> Result<Certificate, String> {
        let (address, timeout) = (address.to_owned(), self.timeout);
        on_own_runtime(async move { first_contact(&address, timeout).await })
    }

    fn member_config(
        &self,
        address: &str,
        fingerprint: &str,
    ) -> Result<Vec<MemberConfigKey>, String> {
        let (address, timeout) = (address.to_owned(), self.timeout);
        let fingerprint = fingerprint.to_owned();
        on_own_runtime(async move {
            // The shared client, as every Corral program reaches a member over HTTPS.
            let pinned = ServerTrust::Fingerprint(fingerprint);
            let client = Client::https(&address, &pinned, None)
                .map_err(|e| e.to_string())?
                .with_timeout(timeout);
            let cluster: Cluster = client.get("/1.0/cluster").await.map_err(|e| match e {
                ClientError::Api { message, .. } => {
                    format!("{address} refused to list its member-specific keys: {message}")
                }
                other => format!("cannot read /1.0/cluster from {address}: {other}"),
            })?;
            Ok(cluster.member_config)
        })
    }
}

/// Runs a future on a runtime of its own, on a thread of its own, so that callers may be
/// inside another runtime or none.
fn on_own_runtime<T: Send + 'static>(
    fut: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?
            .block_on(fut)
    })
    .join()
    .map_err(|_| "the network call panicked".to_owned())?
}

/// The certificate the server at `address` presents, whatever it is: the person (or the
/// join token) judges its fingerprint before anything is trusted.
async fn first_contact(address: &str, timeout: Duration) -> Result<Certificate, String> {
    // Nothing is asked of the server, so no client certificate is presented.
    let tls = client_config(&ServerTrust::Any, None, &[]).map_err(|e| e.to_string())?;
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| format!("cannot reach {address}: no answer within {timeout:?}"))?
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    tokio::time::timeout(
        timeout,
        tokio_rustls::TlsConnector::from(tls.config.clone()).connect(tls.server_name.clone(), tcp),
    )
    .await
    .map_err(|_| format!("{address} did not finish the TLS handshake within {timeout:?}"))?
    .map_err(|e| format!("TLS handshake with {address} failed: {e}"))?;
    tls.seen_certificate()
        .map(Certificate::from_der)
        .ok_or_else(|| format!("{address} presented no certificate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_base64_at_64_columns() {
        let cert = Certificate::from_der(vec![7u8; 100]);
        let pem = cert.pem();
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(*lines.last().unwrap(), "-----END CERTIFICATE-----");
        let body: String = lines[1..lines.len() - 1].concat();
        assert_eq!(
            corral_shared::preseed::base64::decode(&body).unwrap(),
            vec![7u8; 100]
        );
    }

    #[test]
    fn an_unreachable_address_is_an_error_not_a_hang() {
        let remote = TlsRemote {
            timeout: Duration::from_secs(2),
        };
        // Port 1 on loopback: nothing listens there.
        let err = remote.certificate("127.0.0.1:1").unwrap_err();
        assert!(err.contains("cannot reach 127.0.0.1:1"), "{err}");
    }
}
