//! The demo's HTTP server loop: HTTP/1.1 and HTTP/2 (cleartext) on one port, with what a
//! production server needs beyond `axum::serve`. Copy it into your crate: the README's "A
//! production server loop" has the dependency lines it needs and a `main` that calls it.
//!
//! - **`TCP_NODELAY`** on every accepted socket, so a small response is sent at once instead of
//!   waiting for the client's delayed ACK (the first HTTP/2 response on a new connection took
//!   40-50 ms without it).
//! - **A header-read timeout**: a connection that has not sent a whole request head in time is
//!   closed, so connections that send half a request cannot pile up until file descriptors run
//!   out. It covers the first request (including the bytes that tell HTTP/1 from HTTP/2) and, for
//!   HTTP/1, every later one on a kept-alive connection.
//! - **Graceful shutdown**: once `shutdown` resolves, no new connection is accepted, idle ones
//!   are closed and in-flight requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::{Service, ServiceExt};
use tracing::warn;

/// Serves `service` on `listener` until `shutdown` resolves, then waits for open connections to
/// finish.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = accept(&listener) => match accepted {
                Ok(stream) => stream,
                Err(err) => {
                    // Out of file descriptors, most likely: give connections time to close
                    // rather than spin on the error.
                    warn!(error = %err, "server_accept_failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Told when the first request head has arrived: until then, the timeout runs.
        let first_request = Arc::new(Notify::new());
        let arrived = Arc::clone(&first_request);
        let service = service
            .clone()
            .map_request(move |req: Request<hyper::body::Incoming>| {
                arrived.notify_one();
                req.map(axum::body::Body::new)
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let first_request_late = async {
                if tokio::time::timeout(header_read_timeout, first_request.notified())
                    .await
                    .is_ok()
                {
                    std::future::pending::<()>().await;
                }
            };
            // Dropping the connection closes it.
            tokio::select! {
                _ = connection => {}
                () = first_request_late => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next connection, with `TCP_NODELAY` set.
pub async fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    let (stream, _) = listener.accept().await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
