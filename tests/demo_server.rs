//! The demo's server loop (`examples/demo/serve.rs`), compiled into this test as it is into the
//! demo, for what can only be checked from inside the process.

#[path = "../examples/demo/serve.rs"]
mod serve;

use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn accepted_sockets_have_nagle_turned_off() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr);
    let (accepted, client) = tokio::join!(serve::accept(&listener), client);
    let accepted = accepted.unwrap();
    let _client = client.unwrap();
    assert!(
        accepted.nodelay().unwrap(),
        "TCP_NODELAY is off on the accepted socket"
    );

    // The option is really ours: a socket accepted without the helper has it off.
    let plain_client = TcpStream::connect(addr);
    let ((plain, _), _plain_client) =
        tokio::join!(async { listener.accept().await.unwrap() }, async {
            plain_client.await.unwrap()
        });
    assert!(!plain.nodelay().unwrap());
}

#[tokio::test]
async fn serves_http1_and_http2_on_one_port_until_shutdown() {
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = Router::new().route("/", get(|| async { "hello" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(
        listener,
        app,
        Duration::from_secs(10),
        async {
            let _ = stopped.await;
        },
    ));

    for http2 in [false, true] {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(http2)
            .build_http::<Empty<bytes::Bytes>>();
        let res = client.get(url.parse().unwrap()).await.unwrap();
        let expected = if http2 {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        };
        assert_eq!(res.version(), expected);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hello");
    }

    stop.send(()).unwrap();
    tokio::time::timeout(redis_gate_testkit::poll::DEADLINE, server)
        .await
        .expect("the server stops once told to")
        .unwrap();
}
