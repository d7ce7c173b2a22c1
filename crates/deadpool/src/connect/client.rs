//! A Redis client for one node, the same for the check, the pool and the sentinels' masters.

use deadpool_redis::redis::{
    Client, IntoConnectionInfo, ProtocolVersion, RedisResult, TlsCertificates,
};

use crate::config::Node;

/// A client for `node`, verifying TLS against `certificates` (PEM roots) when given.
pub(super) fn client(
    node: &Node,
    protocol: ProtocolVersion,
    certificates: Option<&[u8]>,
) -> RedisResult<Client> {
    let info = node.revealed_url().into_connection_info()?;
    let settings = info.redis_settings().clone().set_protocol(protocol);
    let info = info.set_redis_settings(settings);
    match certificates.filter(|_| node.is_tls()) {
        Some(pem) => Client::build_with_tls(info, tls_roots(pem)),
        None => Client::open(info),
    }
}

pub(super) fn tls_roots(pem: &[u8]) -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.to_vec()),
    }
}
