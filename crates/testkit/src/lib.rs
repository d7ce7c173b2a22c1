//! Test machinery shared by the redis-gate test suites: real servers on loopback sockets (HTTP
//! servers and `redis-server` processes), a real HTTP client, a fault-injecting TCP proxy, and a
//! check that no captured output shows a test password. Not published.

#![forbid(unsafe_code)]

pub mod http;
pub mod logs;
pub mod poll;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod secrets;
pub mod tls;
