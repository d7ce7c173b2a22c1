//! The bearer token that can guard the details path.

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use subtle::ConstantTimeEq;

/// The token a request to the details path must carry as `Authorization: Bearer <token>`. It has
/// no `Debug`: the token is a secret.
#[derive(Clone)]
pub(super) struct BearerToken(Box<[u8]>);

impl BearerToken {
    pub(super) fn new(token: &str) -> BearerToken {
        BearerToken(token.as_bytes().into())
    }

    /// Whether `req` carries the token. The scheme is case-insensitive (RFC 9110), the token is
    /// not, and it is compared in constant time.
    pub(super) fn admits<B>(&self, req: &Request<B>) -> bool {
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .map_or(&[][..], HeaderValue::as_bytes);
        let (scheme, token) = given.split_at(given.len().min(7));
        scheme.eq_ignore_ascii_case(b"bearer ") && bool::from(token.ct_eq(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: Option<&str>) -> Request<()> {
        let mut req = Request::get("/health/dependencies");
        if let Some(value) = value {
            req = req.header(AUTHORIZATION, value);
        }
        req.body(()).unwrap()
    }

    #[test]
    fn only_the_exact_token_after_a_bearer_scheme_is_admitted() {
        let token = BearerToken::new("s3cret");
        for (value, admitted) in [
            (Some("Bearer s3cret"), true),
            (Some("bearer s3cret"), true),
            (Some("BEARER s3cret"), true),
            (Some("Bearer S3CRET"), false),
            (Some("Bearer s3cret "), false),
            (Some("Bearer s3cre"), false),
            (Some("Basic s3cret"), false),
            (Some("s3cret"), false),
            (Some("Bearer"), false),
            (None, false),
        ] {
            let req = with_authorization(value);
            assert_eq!(token.admits(&req), admitted, "{value:?}");
        }
    }
}
