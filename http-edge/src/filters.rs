//! The small warp filters the routes are built from: guards that refuse a
//! request with one of [`crate::rejection`]'s rejections (path, method,
//! body limit, same-site check) and extractors (request context, raw query).

use std::{convert::Infallible, future::poll_fn, pin::pin, sync::Arc};

use auth_proto::RequestId;
use http::{HeaderMap, Method, header::CONTENT_LENGTH};
use hyper::body::Bytes;
use warp::{Buf, Filter, Rejection, Stream, path::FullPath};

use crate::{
    origins,
    rate_limits::PeerAddr,
    rejection::{CrossSite, TooLarge, UnreadableBody},
    state::{AppState, Ctx},
};

/// The largest request body a POST route accepts, in bytes.
pub(crate) const MAX_BODY: usize = 4096;

/// Matches when the whole request path is `matches`'s; rejects as "not
/// found" otherwise.
pub(crate) fn path_where(
    matches: impl Fn(&str) -> bool + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(move |path: FullPath| {
            let found = matches(path.as_str());
            async move {
                if found {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
}

/// Matches one method, rejecting others as "not found" rather than 405, so
/// that trying one route never turns another's 404 into a 405 (a wrong
/// method on a known path is answered from the route table instead).
pub(crate) fn method_is(expected: Method) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and_then(move |method: Method| {
            let matches = method == expected;
            async move {
                if matches {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
}

/// The body, refused over [`MAX_BODY`] bytes: by its `Content-Length`
/// before reading it, or while reading one of undeclared length (chunked).
pub(crate) fn limited_body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    let declared = warp::header::optional::<u64>(CONTENT_LENGTH.as_str()).and_then(
        |length: Option<u64>| async move {
            match length {
                Some(length) if length > MAX_BODY as u64 => Err(warp::reject::custom(TooLarge)),
                _ => Ok(()),
            }
        },
    );
    declared
        .untuple_one()
        .and(warp::body::stream())
        .and_then(|body| async move { read_at_most(body, MAX_BODY).await })
}

/// Reads `body`, refusing it once it passes `limit` bytes.
async fn read_at_most<B: Buf>(
    body: impl Stream<Item = Result<B, warp::Error>>,
    limit: usize,
) -> Result<Bytes, Rejection> {
    let mut body = pin!(body);
    let mut read = Vec::new();
    while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let mut chunk = chunk.map_err(|_| warp::reject::custom(UnreadableBody))?;
        if read.len().saturating_add(chunk.remaining()) > limit {
            return Err(warp::reject::custom(TooLarge));
        }
        while chunk.has_remaining() {
            let bytes = chunk.chunk();
            read.extend_from_slice(bytes);
            let n = bytes.len();
            chunk.advance(n);
        }
    }
    Ok(Bytes::from(read))
}

/// Refuses a cross-site request (see [`origins::is_cross_site`]).
pub(crate) fn same_site(
    state: Arc<AppState>,
) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and_then(move |headers: HeaderMap| {
            let refused = origins::is_cross_site(&headers, &state.settings.allowed_origins);
            async move {
                if refused {
                    Err(warp::reject::custom(CrossSite))
                } else {
                    Ok(())
                }
            }
        })
        .untuple_one()
}

/// The request's context, with the id [`crate::server`] gave the request
/// (a fresh one if none was given, e.g. when the routes are served alone).
pub(crate) fn with_ctx(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Ctx,), Error = Infallible> + Clone {
    warp::ext::optional::<RequestId>().map(move |id: Option<RequestId>| {
        Ctx::new(state.clone(), id.unwrap_or_else(RequestId::generate))
    })
}

/// The peer address of the request's connection (none when the routes are
/// served alone, as in unit tests).
pub(crate) fn peer_addr() -> impl Filter<Extract = (Option<PeerAddr>,), Error = Infallible> + Clone
{
    warp::ext::optional::<PeerAddr>()
}

/// The raw query string, empty when there is none. Parsed by the handlers
/// themselves, so a malformed query never becomes a warp rejection (and is
/// never logged: it may hold an authorization code).
pub(crate) fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_is_read_up_to_the_limit_and_refused_past_it() {
        let filter = limited_body();
        let body = |size: usize| {
            warp::test::request()
                .method("POST")
                .body(vec![b'x'; size])
                .filter(&filter)
        };
        assert_eq!(body(MAX_BODY).await.ok().map(|b| b.len()), Some(MAX_BODY));
        assert_eq!(body(0).await.ok().map(|b| b.len()), Some(0));
        let refused = body(MAX_BODY + 1).await.err();
        assert!(refused.is_some_and(|r| r.find::<TooLarge>().is_some()));
    }
}
