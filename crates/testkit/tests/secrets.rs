//! The leak check: registered passwords in captured output fail the test that captured it.

use std::convert::Infallible;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use redis_gate_testkit::http::{HttpClient, TestServer};
use redis_gate_testkit::logs::LogCapture;
use redis_gate_testkit::secrets::{check, find_leak, register, scanned};

#[test]
fn raw_and_percent_encoded_forms_are_found_and_short_strings_are_not_registered() {
    register("p@ss w/rd-42");
    assert!(find_leak("x p@ss w/rd-42 x").is_some());
    assert!(find_leak("redis://:p%40ss%20w%2Frd-42@cache").is_some());
    assert!(find_leak("redis://:p%40ss%20w%2Frd%2D42@cache").is_some());
    assert!(find_leak("redis://:***@cache").is_none());
    let shown = find_leak("p@ss w/rd-42").unwrap();
    assert!(!shown.contains("w/rd"), "the report masks it: {shown}");

    register("abc12");
    assert!(find_leak("abc12").is_none(), "too short to register");
}

#[test]
#[should_panic(expected = "leaked into the test's output")]
fn a_registered_password_in_checked_output_fails_the_test() {
    register("Unit-Secret-Leaks-1");
    // The counts are the process's: other tests add to them at the same time, but never 100 kB.
    let before = scanned();
    let clean = "all good ".repeat(100_000 / 9 + 1);
    check("the test's output", &clean);
    let after = scanned();
    assert!(after.outputs > before.outputs);
    assert!(after.bytes >= before.bytes + clean.len() as u64);
    check("the test's output", "oops Unit-Secret-Leaks-1 oops");
}

#[test]
#[should_panic(expected = "leaked into captured log lines")]
fn log_lines_are_checked_when_the_capture_ends() {
    register("Unit-Secret-Logged-2");
    let (_logs, guard) = LogCapture::install();
    tracing::warn!(url = "redis://:Unit-Secret-Logged-2@cache", "redis_config");
    drop(guard);
}

#[tokio::test]
#[should_panic(expected = "leaked into an HTTP response")]
async fn http_responses_are_checked_as_they_are_read() {
    register("Unit-Secret-Served-3");
    let server = TestServer::spawn(tower::service_fn(|_req| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            b"{\"lastError\":\"Unit-Secret-Served-3\"}",
        ))))
    }))
    .await;
    HttpClient::new().get(&server.url("/")).await;
}
