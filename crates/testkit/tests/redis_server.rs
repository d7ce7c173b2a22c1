//! The `redis-server` harness against the real binary.

use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, RedisResult};
use nix::errno::Errno;
use nix::sys::signal;
use nix::unistd::Pid;
use redis_gate_testkit::redis::{RedisServer, free_port};

/// `PING` on a fresh connection whose connect and response both time out after `timeout`.
fn ping_within(url: &str, timeout: Duration) -> RedisResult<String> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    redis::cmd("PING").query::<String>(&mut conn)
}

fn accepts_connections(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn process_exists(pid: u32) -> bool {
    let pid = Pid::from_raw(i32::try_from(pid).unwrap());
    signal::kill(pid, None) != Err(Errno::ESRCH)
}

#[test]
fn started_server_answers_commands_on_its_own_port() {
    let server = RedisServer::start();

    assert_ne!(server.port(), 6379);
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    assert_eq!(server.url(), server.url_without_password());
    assert!(server.is_running());
    assert!(server.pid().is_some());
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
    assert_eq!(server.command(&["SET", "k", "v"]), Ok("OK".to_owned()));
    assert_eq!(server.command(&["GET", "k"]), Ok("v".to_owned()));
    assert_eq!(server.command(&["INCR", "n"]), Ok("1".to_owned()));
    assert_eq!(server.command(&["GET", "missing"]), Ok(String::new()));
    assert_eq!(
        server.command(&["RPUSH", "l", "a", "b"]),
        Ok("2".to_owned())
    );
    assert_eq!(
        server.command(&["LRANGE", "l", "0", "-1"]),
        Ok("a\nb".to_owned())
    );
    let err = server.command(&["NOSUCHCOMMAND"]).unwrap_err();
    assert!(err.starts_with("ERR unknown command"), "{err}");
    assert!(server.command(&[]).is_err());
}

#[test]
fn server_lives_in_its_temp_dir_and_logs_there() {
    let server = RedisServer::start();

    assert_eq!(
        server.command(&["CONFIG", "GET", "dir"]),
        Ok(format!(
            "dir\n{}",
            server.dir().canonicalize().unwrap().display()
        ))
    );
    assert_eq!(
        server.command(&["CONFIG", "GET", "save"]),
        Ok("save\n".to_owned())
    );
    assert!(server.log().contains("Ready to accept connections"));
}

#[test]
fn extra_args_reach_the_server() {
    let server = RedisServer::builder()
        .arg("maxmemory", "10mb")
        .arg("maxmemory-policy", "allkeys-lru")
        .start();

    assert_eq!(
        server.command(&["CONFIG", "GET", "maxmemory"]),
        Ok("maxmemory\n10485760".to_owned())
    );
    assert_eq!(
        server.command(&["CONFIG", "GET", "maxmemory-policy"]),
        Ok("maxmemory-policy\nallkeys-lru".to_owned())
    );
}

#[test]
fn server_starts_on_the_requested_port() {
    let port = free_port();
    let server = RedisServer::builder().port(port).start();

    assert_eq!(server.port(), port);
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
}

#[test]
fn password_server_answers_authenticated_commands_and_refuses_others() {
    let server = RedisServer::builder().password("s3cret").start();

    assert_eq!(
        server.url(),
        format!("redis://:s3cret@127.0.0.1:{}", server.port())
    );
    assert_eq!(
        server.url_without_password(),
        format!("redis://127.0.0.1:{}", server.port())
    );
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));

    let err = ping_within(&server.url_without_password(), Duration::from_secs(2)).unwrap_err();
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
}

#[test]
fn frozen_server_does_not_answer_until_thawed() {
    let mut server = RedisServer::start();

    server.freeze();
    assert!(server.is_running());
    assert!(ping_within(&server.url(), Duration::from_millis(200)).is_err());

    server.thaw();
    assert_eq!(
        ping_within(&server.url(), Duration::from_secs(2)).unwrap(),
        "PONG"
    );
}

#[test]
fn killed_server_restarts_on_the_same_port_without_its_data() {
    let mut server = RedisServer::start();
    let port = server.port();
    let first_pid = server.pid().unwrap();
    server.command(&["SET", "k", "v"]).unwrap();

    server.kill();
    assert!(!server.is_running());
    assert_eq!(server.pid(), None);
    assert!(!process_exists(first_pid));
    assert!(!accepts_connections(port));
    assert!(server.command(&["PING"]).is_err());

    server.restart();
    assert!(server.is_running());
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), Some(first_pid));
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
    assert_eq!(server.command(&["GET", "k"]), Ok(String::new()));
}

#[test]
fn stopped_server_shuts_down_cleanly_and_restarts() {
    let mut server = RedisServer::builder().password("s3cret").start();
    let port = server.port();

    server.stop();
    assert!(!server.is_running());
    assert!(!accepts_connections(port));
    assert!(
        server.log().contains("ready to exit, bye bye"),
        "{}",
        server.log()
    );

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
}

#[test]
fn frozen_server_stops_and_restarts() {
    let mut server = RedisServer::start();
    server.freeze();

    server.stop();
    assert!(!server.is_running());

    server.restart();
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
}

#[test]
fn restart_kills_a_running_server_first() {
    let mut server = RedisServer::start();
    let first_pid = server.pid().unwrap();

    server.restart();
    assert!(!process_exists(first_pid));
    assert_ne!(server.pid(), Some(first_pid));
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
}

#[test]
fn restart_accepting_returns_once_connections_are_accepted() {
    let mut server = RedisServer::start();
    server.kill();

    server.restart_accepting();
    assert!(accepts_connections(server.port()));
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.command(&["PING"]) != Ok("PONG".to_owned()) {
        assert!(Instant::now() < deadline, "no PONG after restart_accepting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn late_server_starts_after_its_delay_on_the_announced_port() {
    let late = RedisServer::builder()
        .password("s3cret")
        .start_after(Duration::from_millis(500));
    let port = late.port();
    let url = late.url();
    assert_eq!(url, format!("redis://:s3cret@127.0.0.1:{port}"));
    assert!(!accepts_connections(port));

    let server = late.join();
    assert_eq!(server.port(), port);
    assert_eq!(server.url(), url);
    assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
}

#[test]
fn dropped_server_is_killed_even_when_frozen() {
    let mut server = RedisServer::start();
    let pid = server.pid().unwrap();
    let port = server.port();
    let dir = server.dir().to_owned();
    server.freeze();

    drop(server);
    assert!(!process_exists(pid));
    assert!(!accepts_connections(port));
    assert!(!dir.exists());
}

#[test]
#[should_panic(expected = "exited during startup")]
fn start_on_a_taken_port_panics_with_the_log() {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();

    RedisServer::builder().port(port).start();
}
