//! What a server at an address answers, to tell a mistake from an outage when a connect fails:
//! a plain `PING`, or a TLS `ClientHello`, each on a connection of its own and within a bound.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::classify::{ANSWER_BYTES, Answer};

/// What `host:port` answers a plain `PING` within `within`, if anything.
pub(super) async fn answer_to_ping(host: &str, port: u16, within: Duration) -> Option<Answer> {
    let mut answer = Vec::with_capacity(ANSWER_BYTES);
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await?;
        stream.write_all(b"PING\r\n").await?;
        // Up to the end of the first word: a slow server may send it in pieces.
        let mut chunk = [0u8; ANSWER_BYTES];
        while answer.len() < ANSWER_BYTES && !answer.iter().any(u8::is_ascii_whitespace) {
            let read = stream
                .read(&mut chunk[..ANSWER_BYTES - answer.len()])
                .await?;
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..read]);
        }
        Ok::<(), std::io::Error>(())
    };
    // A server that sent part of an answer and then nothing is judged on that part.
    let _ = tokio::time::timeout(within, exchange).await;
    Answer::read(&answer)
}

/// True when `host:port` answers a TLS `ClientHello` with a TLS record (a handshake or an
/// alert).
pub(super) async fn speaks_tls(host: &str, port: u16, within: Duration) -> bool {
    let Some(hello) = client_hello() else {
        return false;
    };
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(&hello).await.ok()?;
        let mut record = [0u8; 2];
        stream.read_exact(&mut record).await.ok()?;
        Some(matches!(record, [0x15 | 0x16, 0x03]))
    };
    tokio::time::timeout(within, exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The first flight of a TLS client, from rustls: only sent, to see whether TLS answers.
fn client_hello() -> Option<Vec<u8>> {
    // Deprecated since rustls 0.23.48 for lacking post-quantum key exchange, which does not
    // matter here: this hello only draws the server's first reply, and no key is ever agreed.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("redis").ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).ok()?;
    Some(hello)
}
