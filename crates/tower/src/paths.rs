//! The paths both the gate and the probe know: the probe's default paths, which the gate lets
//! through, and the length prefilter with which both tell most paths apart before comparing.

/// The liveness paths a new [`ReadinessProbeLayer`](crate::ReadinessProbeLayer) answers.
pub const DEFAULT_LIVENESS_PATHS: [&str; 2] = ["/health", "/health/live"];
/// The readiness paths a new [`ReadinessProbeLayer`](crate::ReadinessProbeLayer) answers.
pub const DEFAULT_READINESS_PATHS: [&str; 3] = ["/ready", "/healthz", "/health/ready"];
/// The startup paths a new [`ReadinessProbeLayer`](crate::ReadinessProbeLayer) answers.
pub const DEFAULT_STARTUP_PATHS: [&str; 1] = ["/startup"];
/// The conventional details path, for
/// [`ReadinessProbeLayer::details_path`](crate::ReadinessProbeLayer::details_path).
pub const DEFAULT_DETAILS_PATH: &str = "/health/dependencies";

/// True for the paths a new `ReadinessProbeLayer` answers (and the conventional details path),
/// which `RequireRedis` lets through by default.
pub(crate) fn is_default_path(path: &str) -> bool {
    DEFAULT_LIVENESS_PATHS.contains(&path)
        || DEFAULT_READINESS_PATHS.contains(&path)
        || DEFAULT_STARTUP_PATHS.contains(&path)
        || path == DEFAULT_DETAILS_PATH
}

/// The bit for `path` in a mask of path lengths (bit 63: 63 bytes or longer), with which most
/// paths are told apart from a short list by their length alone.
#[inline]
pub(crate) const fn length_bit(path: &str) -> u64 {
    1 << if path.len() < 63 { path.len() } else { 63 }
}

/// The [`length_bit`]s of every path [`is_default_path`] accepts.
pub(crate) const DEFAULT_PATH_LENGTHS: u64 = {
    let mut mask = length_bit(DEFAULT_DETAILS_PATH);
    let mut i = 0;
    while i < DEFAULT_LIVENESS_PATHS.len() {
        mask |= length_bit(DEFAULT_LIVENESS_PATHS[i]);
        i += 1;
    }
    let mut i = 0;
    while i < DEFAULT_READINESS_PATHS.len() {
        mask |= length_bit(DEFAULT_READINESS_PATHS[i]);
        i += 1;
    }
    let mut i = 0;
    while i < DEFAULT_STARTUP_PATHS.len() {
        mask |= length_bit(DEFAULT_STARTUP_PATHS[i]);
        i += 1;
    }
    mask
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_mask_lets_every_default_path_through_to_the_comparison() {
        let defaults = DEFAULT_LIVENESS_PATHS
            .iter()
            .chain(&DEFAULT_READINESS_PATHS)
            .chain(&DEFAULT_STARTUP_PATHS)
            .chain([&DEFAULT_DETAILS_PATH]);
        for path in defaults {
            assert!(is_default_path(path), "{path}");
            assert_ne!(DEFAULT_PATH_LENGTHS & length_bit(path), 0, "{path}");
        }
        assert_eq!(DEFAULT_PATH_LENGTHS & length_bit("/api"), 0);
        assert!(!is_default_path("/health/"));
    }

    #[test]
    fn lengths_of_63_bytes_and_more_share_the_last_bit() {
        assert_eq!(length_bit(""), 1);
        assert_eq!(length_bit("/"), 2);
        assert_eq!(length_bit(&"x".repeat(62)), 1 << 62);
        assert_eq!(length_bit(&"x".repeat(63)), 1 << 63);
        assert_eq!(length_bit(&"x".repeat(500)), 1 << 63);
    }
}
