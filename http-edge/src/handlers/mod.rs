//! One thin handler per route, grouped by concern: decode the request, make
//! one auth-service call, encode the answer as a redirect with cookies or as
//! JSON. Tokens, codes and bindings are passed through, never logged or put
//! in a URL or body. Every log line here runs in the request's span, which
//! carries its `request_id` ([`crate::server`]).
//!
//! - [`login`]: `/auth/{provider}/login` and `/auth/{provider}/link`, and
//!   [`callback`]: `/auth/{provider}/callback` (browser navigations: they
//!   end in redirects, failures on the error route).
//! - [`session`]: `/auth/me`, `/auth/refresh`, `/auth/logout` (JSON API);
//!   [`profile`]: the user's JSON shapes.
//! - [`identities`]: `/auth/identities/{provider}/unlink` (JSON API).
//! - [`unlink`]: Kakao's unlink callback.
//! - [`operations`]: the key set, probes, metrics and CORS preflights.
//! - [`demo`]: the demo page and its assets.

pub(crate) mod callback;
pub(crate) mod demo;
pub(crate) mod identities;
pub(crate) mod login;
pub(crate) mod operations;
mod profile;
pub(crate) mod session;
pub(crate) mod unlink;

/// The first value of parameter `name` in a form-encoded `query`, decoded.
fn first_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_of_a_parameter_is_taken() {
        assert_eq!(
            first_param("return_to=%2Fdashboard%3Ftab%3D1&return_to=x", "return_to").as_deref(),
            Some("/dashboard?tab=1")
        );
        assert_eq!(first_param("", "return_to"), None);
    }
}
