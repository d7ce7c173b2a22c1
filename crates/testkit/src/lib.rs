//! Test machinery shared by the redis-gate test suites: real servers on loopback sockets and a
//! real HTTP client. Not published.

#![forbid(unsafe_code)]

pub mod http;
