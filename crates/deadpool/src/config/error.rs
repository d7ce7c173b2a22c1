//! The error every part of the configuration reports.

use std::borrow::Cow;

use redis_gate_core::redact;

/// A configuration mistake: which setting, its value with any secret masked, and what would be
/// valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Nothing says where Redis is, and no default was offered.
    #[error(
        "no Redis configuration: set REDIS_URL (e.g. redis://cache:6379/0), or REDIS_HOST (alias \
         REDIS_ENDPOINT) with optional REDIS_PORT, REDIS_USERNAME, REDIS_AUTH_TOKEN (alias \
         REDIS_PASSWORD), REDIS_DB and REDIS_TLS_ENABLED (alias REDIS_TLS)"
    )]
    Missing,
    /// A setting has a value that cannot be used.
    #[error("{variable}={value:?} is not valid: {expected}")]
    Invalid {
        /// The variable (or argument) at fault.
        variable: &'static str,
        /// Its value, secrets masked.
        value: String,
        /// What would be valid.
        expected: Cow<'static, str>,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        variable: &'static str,
        value: &str,
        expected: impl Into<Cow<'static, str>>,
    ) -> ConfigError {
        ConfigError::Invalid {
            variable,
            value: redact(value),
            expected: expected.into(),
        }
    }

    /// The variable at fault, if any.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            ConfigError::Missing => None,
            ConfigError::Invalid { variable, .. } => Some(variable),
        }
    }
}
