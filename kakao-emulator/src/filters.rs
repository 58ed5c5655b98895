//! warp filters every provider's routes are built from: the shared state,
//! the raw query, a size-capped body, and a few headers.

use std::convert::Infallible;
use std::sync::Arc;

use warp::hyper::body::Bytes;
use warp::{Filter, Rejection};

use crate::state::Shared;

/// Bodies are small forms; anything bigger than this is refused with 413.
const MAX_BODY: u64 = 64 * 1024;

/// The rejection of a body over [`MAX_BODY`]; answered 413 by the route tree.
#[derive(Debug)]
pub(crate) struct BodyTooLarge;

impl warp::reject::Reject for BodyTooLarge {}

pub(crate) fn with_shared(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Arc<Shared>,), Error = Infallible> + Clone {
    warp::any().map(move || shared.clone())
}

/// The raw query string, empty when there is none.
pub(crate) fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// The body, refused when a `Content-Length` above [`MAX_BODY`] announces it.
pub(crate) fn body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(|length: Option<u64>| async move {
            match length {
                Some(length) if length > MAX_BODY => Err(warp::reject::custom(BodyTooLarge)),
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::bytes())
}

pub(crate) fn content_type() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone
{
    warp::header::optional::<String>("content-type")
}

pub(crate) fn authorization() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone
{
    warp::header::optional::<String>("authorization")
}

pub(crate) fn host() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("host")
}

/// `GET` or `POST`.
pub(crate) fn get_or_post() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::get().or(warp::post()).unify()
}

/// The query, content type and body of a request whose parameters may come
/// in either (see [`crate::params::Params::of_request`]).
pub(crate) fn request_params()
-> impl Filter<Extract = (String, Option<String>, Bytes), Error = Rejection> + Clone {
    raw_query().and(content_type()).and(body())
}
