//! A minimal HTTPS client for tests: presents its own (untrusted) client certificate and
//! records the server's fingerprint, as an LXD client talking to a new server would.

use corral_shared::tls::{ClientIdentity, ClientTls, ServerTrust, client_config};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

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

/// An HTTPS client with a fresh self-signed client certificate.
pub struct HttpsClient {
    tls: ClientTls,
    identity: ClientIdentity,
    /// This client's certificate fingerprint.
    pub fingerprint: String,
    /// Its certificate, PEM (to trust it).
    pub pem: String,
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
        let identity = ClientIdentity::new(
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        );
        // The server is recorded, not judged: tests compare its fingerprint.
        let tls = client_config(&ServerTrust::Any, Some(&identity), &[]).expect("TLS setup");
        Self {
            tls,
            fingerprint: identity.fingerprint(),
            identity,
            pem: cert.pem(),
        }
    }

    /// This client's certificate and key, for the shared client's HTTPS transport.
    pub fn identity(&self) -> &ClientIdentity {
        &self.identity
    }

    /// Opens one connection to `address` and keeps it for every request sent through the
    /// session (HTTP/1.1 keep-alive), as a long-lived client would.
    pub fn session(&self, address: &str) -> HttpsSession {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (config, name) = (self.tls.config.clone(), self.tls.server_name.clone());
        let address = address.to_owned();
        let sender = rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(&address)
                .await
                .expect("connects");
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .expect("TLS handshake");
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .expect("HTTP handshake");
            tokio::spawn(conn);
            sender
        });
        HttpsSession { rt, sender }
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
        let (config, name) = (self.tls.config.clone(), self.tls.server_name.clone());
        let reply = rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(address)
                .await
                .expect("connects");
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
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
            server_fingerprint: self
                .tls
                .seen_certificate()
                .map(|der| corral_shared::fingerprint::of_der(&der))
                .unwrap_or_default(),
        }
    }
}

/// One kept-alive HTTPS connection (see [`HttpsClient::session`]).
pub struct HttpsSession {
    rt: tokio::runtime::Runtime,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl HttpsSession {
    /// Sends a request on the session's connection: its status and body. Panics if the
    /// connection was closed, so a test knows the request really shared it.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "corral")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
            .expect("request");
        let sender = &mut self.sender;
        self.rt.block_on(async move {
            let resp = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                sender
                    .ready()
                    .await
                    .expect("the kept connection is still open");
                sender.send_request(req).await
            })
            .await
            .expect("an answer within 10 s")
            .expect("a response on the kept connection");
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        })
    }
}
