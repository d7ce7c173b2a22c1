//! What the three middlewares write alike: the accessors for the inner service, and the
//! `Service` impl of a middleware that may answer a request itself.

use http::{Request, Response};

use crate::body::BodyFromBytes;

/// The decision of a middleware that may answer a request itself ([`RequireRedis`]'s gate, the
/// probe), which [`impl_answer_early_service`] turns into its `Service` impl. The decision is
/// split in two so the pass path stays small: a cheap look at every request, and the answer
/// only for the requests the middleware answers.
///
/// [`RequireRedis`]: crate::RequireRedis
pub(crate) trait AnswerEarly {
    /// What the look found in a request the middleware answers: the handle's reading for the
    /// gate, the endpoint for the probe.
    type Reason: Copy;

    /// `Some` when the middleware answers `req` itself, `None` to pass it on.
    fn reason_to_answer<ReqBody>(&self, req: &Request<ReqBody>) -> Option<Self::Reason>;

    /// The response to give for `reason`, without calling the inner service.
    fn answer_early<ReqBody, ResBody: BodyFromBytes>(
        &self,
        reason: Self::Reason,
        req: &Request<ReqBody>,
    ) -> Response<ResBody>;
}

/// The inherent impl of a middleware `$service<S>` with an `inner: S` field: the items given
/// (its constructor, if it has one), then `get_ref`, `get_mut` and `into_inner`, each documented.
macro_rules! impl_inner_accessors {
    ($service:ident { $($item:item)* }) => {
        impl<S> $service<S> {
            $($item)*

            /// A reference to the inner service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// A mutable reference to the inner service.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// The inner service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }
    };
}

/// The `Service` impl of a middleware `$service<S>` whose field `$decider` (an [`AnswerEarly`])
/// answers some requests itself: those get its response in the inner service's body type, the
/// others go to the inner service untouched. `poll_ready` delegates, and the error type is the
/// inner service's.
macro_rules! impl_answer_early_service {
    ($service:ident, $decider:ident) => {
        impl<S, ReqBody, ResBody> ::tower_service::Service<::http::Request<ReqBody>> for $service<S>
        where
            S: ::tower_service::Service<
                    ::http::Request<ReqBody>,
                    Response = ::http::Response<ResBody>,
                >,
            ResBody: $crate::body::BodyFromBytes,
        {
            type Response = ::http::Response<ResBody>;
            type Error = S::Error;
            type Future = $crate::future::ResponseFuture<S::Future, ResBody>;

            #[inline]
            fn poll_ready(
                &mut self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            #[inline]
            fn call(&mut self, req: ::http::Request<ReqBody>) -> Self::Future {
                use $crate::middleware::AnswerEarly as _;
                match self.$decider.reason_to_answer(&req) {
                    None => $crate::future::ResponseFuture::inner(self.inner.call(req)),
                    Some(reason) => $crate::future::ResponseFuture::early(
                        self.$decider.answer_early(reason, &req),
                    ),
                }
            }
        }
    };
}

pub(crate) use {impl_answer_early_service, impl_inner_accessors};
