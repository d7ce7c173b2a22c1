//! Certificates made at test time, for `redis-server --tls-port`.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// PEM files for a TLS test server: `cert` and `key` for 127.0.0.1 and localhost, signed by `ca`.
#[derive(Debug, Clone)]
pub struct TestCertificates {
    /// The server certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// The CA that signed the certificate.
    pub ca: PathBuf,
}

impl TestCertificates {
    /// Generates a fresh CA and server certificate into `dir`.
    ///
    /// # Panics
    ///
    /// If generating or writing them fails.
    pub fn generate(dir: &Path) -> TestCertificates {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let key = KeyPair::generate().expect("a server key");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let cert = CertificateParams::new(names)
            .expect("server params")
            .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
            .expect("a server certificate");
        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write a PEM file");
            path
        };
        TestCertificates {
            cert: write("server.crt", cert.pem()),
            key: write("server.key", key.serialize_pem()),
            ca: write("ca.crt", ca.pem()),
        }
    }
}
