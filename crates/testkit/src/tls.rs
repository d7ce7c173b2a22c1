//! Certificates made at test time, for `redis-server --tls-port`.

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

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
        TestCertificates::generate_for(dir, &["127.0.0.1", "localhost"])
    }

    /// Like [`generate`](Self::generate), with a server certificate that names only `names`.
    ///
    /// # Panics
    ///
    /// If generating or writing them fails.
    pub fn generate_for(dir: &Path, names: &[&str]) -> TestCertificates {
        let ca_key = KeyPair::generate().expect("a CA key");
        // Every CA and certificate gets a name of its own: with rcgen's one default name, OpenSSL
        // (the cluster bus, replication) takes the server certificate for a self-signed one,
        // and two CAs of one test could not be told apart.
        static MADE: AtomicU32 = AtomicU32::new(0);
        let serial = format!(
            "{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("redis-gate test CA {serial}"));
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let key = KeyPair::generate().expect("a server key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut cert_params = CertificateParams::new(names).expect("server params");
        cert_params.distinguished_name.push(
            DnType::CommonName,
            format!("redis-gate test server {serial}"),
        );
        let cert = cert_params
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
