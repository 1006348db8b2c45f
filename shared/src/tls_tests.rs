//! Handshakes over an in-memory pipe against a rustls server, for each way of trusting it.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use super::*;

/// A CA, the server certificate it issued (valid for `corral.test`) and a client identity
/// it issued too, so the test server can check the client with stock webpki.
struct Pki {
    ca_der: Vec<u8>,
    server: ClientIdentity,
    client: ClientIdentity,
}

fn issue(name: &str, issuer: &rcgen::Issuer<'_, &rcgen::KeyPair>) -> ClientIdentity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    ClientIdentity::new(
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(params, &ca_key);
    let server = issue("corral.test", &issuer);
    let client = issue("client", &issuer);
    Pki {
        ca_der: ca.der().to_vec(),
        server,
        client,
    }
}

fn server_config(pki: &Pki) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let clients = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(clients)
        .with_single_cert(vec![pki.server.cert.clone()], pki.server.key.clone_key())
        .unwrap();
    Arc::new(config)
}

/// One handshake: the client's error, or the fingerprint of the certificate the server saw
/// from the client ("" when none).
async fn handshake(pki: &Pki, tls: &ClientTls) -> Result<String, String> {
    let (near, far) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(pki));
    let server = tokio::spawn(async move {
        let stream = acceptor.accept(far).await.map_err(|e| e.to_string())?;
        let peer = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| crate::fingerprint::of_der(c))
            .unwrap_or_default();
        Ok::<_, String>(peer)
    });
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let client = connector.connect(tls.server_name.clone(), near).await;
    match client {
        Ok(_stream) => server.await.unwrap(),
        Err(e) => {
            server.abort();
            Err(e.to_string())
        }
    }
}

#[tokio::test]
async fn each_kind_of_trust_accepts_and_refuses_what_it_should() {
    let pki = pki();
    let other = pki_other_ca();
    let server_fp = pki.server.fingerprint();
    let cases: Vec<(&str, ServerTrust, Option<&str>)> = vec![
        (
            "pinned, right",
            ServerTrust::Fingerprint(server_fp.clone()),
            None,
        ),
        (
            "pinned, upper case",
            ServerTrust::Fingerprint(server_fp.to_ascii_uppercase()),
            None,
        ),
        (
            "pinned, wrong",
            ServerTrust::Fingerprint("ab".repeat(32)),
            Some("fingerprint mismatch"),
        ),
        ("any", ServerTrust::Any, None),
        (
            "CA, right",
            ServerTrust::Ca {
                roots: vec![pki.ca_der.clone()],
                name: "corral.test".into(),
            },
            None,
        ),
        (
            "CA, wrong name",
            ServerTrust::Ca {
                roots: vec![pki.ca_der.clone()],
                name: "elsewhere.test".into(),
            },
            Some("not valid for name"),
        ),
        (
            "CA, another CA",
            ServerTrust::Ca {
                roots: vec![other],
                name: "corral.test".into(),
            },
            Some("invalid peer certificate"),
        ),
    ];
    for (what, trust, refused) in cases {
        let tls = client_config(&trust, None, &[]).unwrap();
        let outcome = handshake(&pki, &tls).await;
        match refused {
            None => assert_eq!(outcome, Ok(String::new()), "{what}"),
            Some(words) => {
                let err = outcome.expect_err(what);
                assert!(err.contains(words), "{what}: {err}");
            }
        }
        // The certificate is recorded whether or not it was trusted.
        let seen = tls.seen_certificate().expect(what);
        assert_eq!(crate::fingerprint::of_der(&seen), server_fp, "{what}");
    }
}

fn pki_other_ca() -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().der().to_vec()
}

#[tokio::test]
async fn the_client_identity_is_presented() {
    let pki = pki();
    let trust = ServerTrust::Fingerprint(pki.server.fingerprint());
    let tls = client_config(&trust, Some(&pki.client), &[b"http/1.1"]).unwrap();
    assert_eq!(tls.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert_eq!(handshake(&pki, &tls).await, Ok(pki.client.fingerprint()));
}

#[test]
fn identity_from_pem_reads_certificate_and_key_and_names_the_origin() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let identity = ClientIdentity::from_pem(&cert.pem(), &key.serialize_pem(), "client.crt")
        .expect("a PEM pair");
    assert_eq!(
        identity.fingerprint(),
        crate::fingerprint::of_der(cert.der())
    );
    let err = ClientIdentity::from_pem("", &key.serialize_pem(), "client.crt").unwrap_err();
    assert_eq!(err.to_string(), "client.crt: no PEM certificate found");
    let err = ClientIdentity::from_pem(&cert.pem(), "", "client.key").unwrap_err();
    assert_eq!(err.to_string(), "client.key: no PEM private key found");
}
