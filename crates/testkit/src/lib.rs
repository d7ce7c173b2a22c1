//! Test machinery shared by the redis-gate test suites: real servers on loopback sockets (HTTP
//! servers and `redis-server` processes) and a real HTTP client. Not published.

#![forbid(unsafe_code)]

pub mod http;
pub mod logs;
pub mod poll;
pub mod process;
pub mod redis;
