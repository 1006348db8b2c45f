//! A minimal HTTPS client for tests: presents its own (untrusted) client certificate and
//! records the server's fingerprint, as an LXD client talking to a new server would.

use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What the server answered.
#[derive(Debug)]
pub struct HttpsReply {
    /// HTTP status.
    pub status: u16,
    /// Content-Type header.
    pub content_type: String,
    /// The body as text.
    pub body: String,
    /// Fingerprint of the certificate the server presented.
    pub server_fingerprint: String,
}

impl HttpsReply {
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

/// Records the server certificate instead of judging it: tests compare fingerprints.
#[derive(Debug)]
struct RecordServer {
    seen: Arc<Mutex<String>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for RecordServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().expect("lock") = corral_shared::fingerprint::of_der(end_entity);
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// An HTTPS client with a fresh self-signed client certificate.
pub struct HttpsClient {
    config: Arc<rustls::ClientConfig>,
    seen: Arc<Mutex<String>>,
    /// This client's certificate fingerprint.
    pub fingerprint: String,
}

impl Default for HttpsClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpsClient {
    /// A client with a new certificate.
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = Arc::new(Mutex::new(String::new()));
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RecordServer {
                seen: seen.clone(),
                provider,
            }))
            .with_client_auth_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("client auth");
        Self {
            config: Arc::new(config),
            seen,
            fingerprint: corral_shared::fingerprint::of_der(cert.der()),
        }
    }

    /// Sends one request to `address` over HTTPS (HTTP/1.1) and returns the reply.
    pub fn request(
        &self,
        address: &str,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> HttpsReply {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let config = self.config.clone();
        let reply = rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(address)
                .await
                .expect("connects");
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(ServerName::try_from("corral").expect("name"), tcp)
                .await
                .expect("TLS handshake");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .expect("HTTP handshake");
            tokio::spawn(conn);
            let req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "corral")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
                .expect("request");
            let resp =
                tokio::time::timeout(std::time::Duration::from_secs(10), sender.send_request(req))
                    .await
                    .expect("an answer within 10 s")
                    .expect("a response");
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            (
                status,
                content_type,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        });
        HttpsReply {
            status: reply.0,
            content_type: reply.1,
            body: reply.2,
            server_fingerprint: self.seen.lock().expect("lock").clone(),
        }
    }
}
