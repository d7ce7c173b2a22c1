//! The probe's paths: which endpoint answers a path, told apart from most other paths by its
//! length alone.

use crate::paths::{
    DEFAULT_LIVENESS_PATHS, DEFAULT_READINESS_PATHS, DEFAULT_STARTUP_PATHS, length_bit,
};

/// What the probe answers on one of its paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    Liveness,
    Readiness,
    Startup,
    Details,
}

/// The paths of each endpoint.
#[derive(Clone)]
pub(super) struct Paths {
    /// Bit `n` is set when some probe path is `n` bytes long (bit 63: 63 or longer), so most
    /// requests are told apart from every probe path by their length alone.
    lengths: u64,
    pub(super) liveness: Vec<Box<str>>,
    pub(super) readiness: Vec<Box<str>>,
    pub(super) startup: Vec<Box<str>>,
    pub(super) details: Option<Box<str>>,
}

impl Default for Paths {
    /// The default liveness, readiness and startup paths; no details path.
    fn default() -> Paths {
        let mut paths = Paths {
            lengths: 0,
            liveness: DEFAULT_LIVENESS_PATHS.map(Box::from).into(),
            readiness: DEFAULT_READINESS_PATHS.map(Box::from).into(),
            startup: DEFAULT_STARTUP_PATHS.map(Box::from).into(),
            details: None,
        };
        paths.update_lengths();
        paths
    }
}

impl Paths {
    /// Replaces the paths of `endpoint`; an empty list turns it off (the details endpoint has at
    /// most one path: the first).
    pub(super) fn set<I, P>(&mut self, endpoint: Endpoint, paths: I)
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let mut paths = paths.into_iter().map(|p| p.as_ref().into());
        match endpoint {
            Endpoint::Liveness => self.liveness = paths.collect(),
            Endpoint::Readiness => self.readiness = paths.collect(),
            Endpoint::Startup => self.startup = paths.collect(),
            Endpoint::Details => self.details = paths.next(),
        }
        self.update_lengths();
    }

    fn update_lengths(&mut self) {
        let lists = [&self.liveness, &self.readiness, &self.startup];
        let listed = lists.into_iter().flatten().map(|path| &**path);
        let paths = listed.chain(self.details.as_deref());
        self.lengths = paths.fold(0, |mask, path| mask | length_bit(path));
    }

    /// The endpoint on `path`, if any: liveness first, then readiness, startup and details,
    /// where a path is in two lists.
    #[inline]
    pub(super) fn endpoint(&self, path: &str) -> Option<Endpoint> {
        if self.lengths & length_bit(path) == 0 {
            return None;
        }
        let listed = |paths: &[Box<str>]| paths.iter().any(|p| **p == *path);
        if listed(&self.liveness) {
            Some(Endpoint::Liveness)
        } else if listed(&self.readiness) {
            Some(Endpoint::Readiness)
        } else if listed(&self.startup) {
            Some(Endpoint::Startup)
        } else if self.details.as_deref() == Some(path) {
            Some(Endpoint::Details)
        } else {
            None
        }
    }

    /// Every path, once, with the endpoint it answers there: where a path is in two lists, the
    /// one [`endpoint`](Self::endpoint) tries first.
    pub(super) fn routes(&self) -> Vec<(&str, Endpoint)> {
        let lists = [
            (&self.liveness, Endpoint::Liveness),
            (&self.readiness, Endpoint::Readiness),
            (&self.startup, Endpoint::Startup),
        ];
        let listed = lists
            .into_iter()
            .flat_map(|(paths, endpoint)| paths.iter().map(move |path| (&**path, endpoint)));
        let details = self
            .details
            .as_deref()
            .map(|path| (path, Endpoint::Details));
        let mut routes: Vec<(&str, Endpoint)> = Vec::new();
        for (path, endpoint) in listed.chain(details) {
            if !routes.iter().any(|(seen, _)| *seen == path) {
                routes.push((path, endpoint));
            }
        }
        routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_in_two_lists_answers_as_the_first_list_tried() {
        let mut paths = Paths::default();
        paths.set(Endpoint::Readiness, ["/health", "/r"]);
        paths.set(Endpoint::Details, ["/r"]);
        assert_eq!(paths.endpoint("/health"), Some(Endpoint::Liveness));
        assert_eq!(paths.endpoint("/r"), Some(Endpoint::Readiness));
        assert_eq!(paths.endpoint("/ready"), None, "replaced");
        assert_eq!(paths.endpoint("/startup"), Some(Endpoint::Startup));
        paths.set(Endpoint::Startup, Vec::<String>::new());
        assert_eq!(paths.endpoint("/startup"), None, "turned off");
    }
}
