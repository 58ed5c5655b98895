//! The `/_emulator/naver/…` and `/_emulator/google/…` controls (faults,
//! stats and their clearing are shared by every provider, in
//! [`crate::routes`]).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::json;
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::control_wire::{GoogleIdTokenSettings, NaverQuirks};
use crate::filters::{body, with_shared};
use crate::reply;
use crate::state::{Shared, State};

/// Parse a JSON control body and apply it: 204, or 400 naming the error.
fn apply<T: DeserializeOwned>(
    shared: &Shared,
    body: &[u8],
    set: impl FnOnce(&mut State, T),
) -> Response {
    match serde_json::from_slice::<T>(body) {
        Ok(value) => {
            set(&mut shared.lock(), value);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => reply::json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": format!("invalid control request: {error}") }),
        ),
    }
}

pub(crate) fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // POST /_emulator/naver/quirks  {"invalid_client_as_401":true}
    let naver_quirks = warp::path!("_emulator" / "naver" / "quirks")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| {
            apply(&shared, &body, |state, quirks: NaverQuirks| {
                state.naver.quirks = quirks;
            })
        });
    // POST /_emulator/google/id_token  {"fault":"expired","email_verified_as_string":false}
    let google_id_token = warp::path!("_emulator" / "google" / "id_token")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| {
            apply(&shared, &body, |state, settings: GoogleIdTokenSettings| {
                state.google.id_token = settings;
            })
        });
    // POST /_emulator/google/rotate_key
    let google_rotate = warp::path!("_emulator" / "google" / "rotate_key")
        .and(warp::post())
        .and(with_shared(shared))
        .map(|shared: Arc<Shared>| {
            let mut state = shared.lock();
            state.google.signing_key = (state.google.signing_key + 1) % 2;
            StatusCode::NO_CONTENT.into_response()
        });
    naver_quirks
        .or(google_id_token)
        .unify()
        .or(google_rotate)
        .unify()
}
