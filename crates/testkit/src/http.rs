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
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
    pub async fn request(&self, req: Request<Full<Bytes>>) -> Reply {
        let res = self.client.request(req).await.expect("the server answers");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("a whole body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}
