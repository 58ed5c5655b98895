//! The one rejection path: the rejections the edge's own filters make, and
//! [`recover`], which turns any rejection (combined over every route that
//! was tried) into one small JSON error. When several routes refused a
//! request for different causes, the most specific cause wins: a body over
//! the limit, then a cross-site POST, then a malformed request, then a wrong
//! method on a known path, and only then "not found".

use std::convert::Infallible;

use warp::{Rejection, reject::Reject, reply::Response};

use crate::error::ApiError;

/// A POST refused as cross-site ([`crate::filters::same_site`]).
#[derive(Debug)]
pub(crate) struct CrossSite;

impl Reject for CrossSite {}

/// A body over the limit ([`crate::filters::limited_body`]).
#[derive(Debug)]
pub(crate) struct TooLarge;

impl Reject for TooLarge {}

/// A body that broke off while it was read.
#[derive(Debug)]
pub(crate) struct UnreadableBody;

impl Reject for UnreadableBody {}

/// A known path asked with a method it does not answer
/// ([`crate::routes::Route::allows`]).
#[derive(Debug)]
pub(crate) struct WrongMethod;

impl Reject for WrongMethod {}

/// Answers a rejection with its JSON error, and logs it.
pub(crate) async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = api_error(&rejection);
    let outcome = error.as_str();
    let response = error.into_response();
    tracing::info!(
        route = "-",
        outcome,
        status = response.status().as_u16(),
        "request"
    );
    Ok(response)
}

/// The answer to a rejection: its most specific cause.
fn api_error(rejection: &Rejection) -> ApiError {
    if rejection.find::<TooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if rejection.find::<CrossSite>().is_some() {
        ApiError::CrossSite
    } else if rejection.find::<UnreadableBody>().is_some()
        || rejection.find::<warp::reject::InvalidHeader>().is_some()
        || rejection.find::<warp::reject::MissingHeader>().is_some()
        || rejection.find::<warp::reject::InvalidQuery>().is_some()
    {
        ApiError::BadRequest
    } else if rejection.find::<WrongMethod>().is_some()
        || rejection.find::<warp::reject::MethodNotAllowed>().is_some()
    {
        ApiError::MethodNotAllowed
    } else {
        ApiError::NotFound
    }
}

#[cfg(test)]
mod tests {
    use warp::Filter;

    use super::*;

    type Make = fn() -> Rejection;

    fn too_large() -> Rejection {
        warp::reject::custom(TooLarge)
    }
    fn cross_site() -> Rejection {
        warp::reject::custom(CrossSite)
    }
    fn unreadable() -> Rejection {
        warp::reject::custom(UnreadableBody)
    }
    fn wrong_method() -> Rejection {
        warp::reject::custom(WrongMethod)
    }
    fn not_found() -> Rejection {
        warp::reject::not_found()
    }

    /// The answer to the rejection of `first.or(second)`.
    async fn combined(first: Make, second: Make) -> ApiError {
        let branch =
            |make: Make| warp::any().and_then(move || async move { Err::<Response, _>(make()) });
        match warp::test::request()
            .filter(&branch(first).or(branch(second)))
            .await
        {
            Err(rejection) => api_error(&rejection),
            Ok(_) => unreachable!("both branches reject"),
        }
    }

    #[tokio::test]
    async fn the_most_specific_rejection_wins_whatever_the_branch_order() {
        let table: [(Make, Make, ApiError); 6] = [
            (too_large, wrong_method, ApiError::PayloadTooLarge),
            (wrong_method, too_large, ApiError::PayloadTooLarge),
            (cross_site, wrong_method, ApiError::CrossSite),
            (not_found, unreadable, ApiError::BadRequest),
            (not_found, wrong_method, ApiError::MethodNotAllowed),
            (not_found, not_found, ApiError::NotFound),
        ];
        for (first, second, expected) in table {
            assert_eq!(combined(first, second).await, expected);
        }
    }
}
