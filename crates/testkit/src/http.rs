//! A real HTTP/1.1 server and client on loopback, for testing layers end to end.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::poll::DEADLINE;

/// A server accepting connections on `127.0.0.1:<free port>` until dropped.
pub struct TestServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl TestServer {
    /// Serves `service` over HTTP/1.1, one task per connection. Works with an axum `Router` as
    /// well as any Tower stack over `Request<Incoming>`.
    pub async fn spawn<S, B>(service: S) -> TestServer
    where
        S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer { addr, accept }
    }

    /// A server answering every request `200 OK` with an empty body: something other than
    /// Redis, for tests that give its address to a Redis client (a real Redis cannot answer
    /// HTTP).
    pub async fn plain_http() -> TestServer {
        TestServer::spawn(EmptyOk).await
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Answers `200 OK`, empty, to anything.
#[derive(Clone, Copy)]
struct EmptyOk;

impl tower_service::Service<Request<Incoming>> for EmptyOk {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Incoming>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::new()))))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A whole response, body read to the end.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as UTF-8 (lossy).
    pub body: String,
}

impl Reply {
    /// The value of header `name` as a string, or `None` if absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A real HTTP/1.1 client (hyper's), for loopback servers.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    /// A client with a fresh connection pool.
    pub fn new() -> HttpClient {
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Reply {
        self.send(Method::GET, url, Bytes::new()).await
    }

    /// Sends `method url` with `body` and reads the whole response.
    pub async fn send(&self, method: Method, url: &str, body: impl Into<Bytes>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(body.into()))
            .expect("a valid request");
        self.request(req).await
    }

    /// Sends `req` and reads the whole response.
    ///
    /// # Panics
    ///
    /// When the exchange fails (see [`try_request`](Self::try_request)), or the response shows
    /// a registered test password (see [`secrets`](crate::secrets)).
    pub async fn request(&self, req: Request<Full<Bytes>>) -> Reply {
        self.try_request(req)
            .await
            .unwrap_or_else(|err| panic!("the server answers: {err}"))
    }

    /// Sends `req` and reads the whole response, or says why there is none (connection refused,
    /// closed before the response, body cut short).
    ///
    /// # Panics
    ///
    /// When the response shows a registered test password (see [`secrets`](crate::secrets)).
    pub async fn try_request(&self, req: Request<Full<Bytes>>) -> Result<Reply, String> {
        let res = self
            .client
            .request(req)
            .await
            .map_err(|err| err.to_string())?;
        let (parts, body) = res.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|err| err.to_string())?
            .to_bytes();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        crate::secrets::check("an HTTP response", &reply.to_string());
        Ok(reply)
    }
}

impl std::fmt::Display for Reply {
    /// The status line, the headers and the body, as on the wire (values lossy as UTF-8).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.status)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
        }
        write!(f, "\n{}", self.body)
    }
}

/// A response read off the wire by [`raw_request`].
#[derive(Debug, Clone)]
pub struct RawReply {
    /// The status code.
    pub status: u16,
    /// The header lines, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Everything after the head, as UTF-8 (lossy).
    pub body: String,
}

impl RawReply {
    /// The first value of header `name` (lower case), or `None`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `request` as it is (it should say `Connection: close`) to a fresh connection to
/// `addr`, and reads until the server closes: for requests a well-behaved client would never
/// send (odd methods, absolute-form targets, huge headers).
///
/// A write that fails because the server already answered and closed is not an error.
///
/// # Panics
///
/// When the server does not answer and close within [`DEADLINE`], sends no parseable status line, or
/// shows a registered test password (see [`secrets`](crate::secrets)).
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> RawReply {
    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .expect("connect to the server");
        let (mut read, mut write) = stream.split();
        let mut received = Vec::new();
        let writing = async {
            // The server may answer (431, 400) and close before it has read everything.
            let _ = write.write_all(request).await;
        };
        let reading = read.read_to_end(&mut received);
        let ((), read_result) = tokio::join!(writing, reading);
        // A reset after the response (unread request bytes) still leaves the response read.
        if received.is_empty() {
            read_result.expect("the server answers");
        }
        received
    };
    let received = tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("the server answers and closes the connection in time");
    let text = String::from_utf8_lossy(&received).into_owned();
    crate::secrets::check("an HTTP response", &text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    RawReply {
        status,
        headers,
        body: body.to_owned(),
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}
