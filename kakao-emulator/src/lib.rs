//! A local stand-in for Kakao Login, Naver Login and Google Sign-In, for
//! development and tests; never for production.
//!
//! It owns one HTTP server on one port. Kakao is served at the root: a
//! client points `KAKAO_AUTH_BASE_URL` and `KAKAO_API_BASE_URL` at the same
//! [`RunningEmulator::base_url`]. Naver is served under `{base_url}/naver`
//! (both of its hosts, with Naver's own paths after the prefix) and Google
//! under `{base_url}/google` (discovery at
//! `/google/.well-known/openid-configuration`, every other endpoint named
//! there); their route tables are in the `naver` and `google` modules, their
//! apps and accounts in [`NaverConfig`] and [`GoogleConfig`].
//!
//! Kakao's routes:
//!
//! | route | emulates |
//! |---|---|
//! | `GET /oauth/authorize` | consent page listing [`TestUser`]s (KOE101/006/201/202 error pages) |
//! | `POST /oauth/authorize/decision` | the consent form: 302 back with `code` or `error=access_denied` |
//! | `POST /oauth/token` | `authorization_code` (single-use codes, PKCE S256, KOE010/303/320) and `refresh_token` (KOE319/322) |
//! | `GET\|POST /v2/user/me` | the user document (Bearer or `KakaoAK` admin key) |
//! | `GET /v1/user/access_token_info` | `{"id","expires_in","app_id"}` |
//! | `POST /v1/user/logout`, `POST /v1/user/unlink` | `{"id"}`; unlink revokes the user's tokens |
//! | `GET /.well-known/openid-configuration` | the discovery document (issuer `https://kauth.kakao.com`) |
//! | `GET /.well-known/jwks.json` | the active id_token signing key (`Cache-Control: max-age=3600`) |
//!
//! With `openid` in the granted scope the token response carries an RS256
//! `id_token` (`iss`, `aud`, `sub`, `iat`, `exp`, `auth_time`, `nonce`,
//! `nickname`, `picture`, `email`), signed with a fixed development key.
//!
//! Tests steer it through [`Control`] (faults, id_token faults and key
//! rotation, call counts, the last token request) or, out of process,
//! through `POST|DELETE /_emulator/faults`, `POST /_emulator/id_token`
//! (`{"fault":"expired"}`, see [`IdTokenFault`]), `POST
//! /_emulator/rotate_key` and `GET /_emulator/stats` (see [`FaultRequest`]
//! and [`Stats`]). Faults and call counts cover every provider's endpoints
//! (`"naver_token"`, `"google_token"`, ... see [`Endpoint`]); Naver adds
//! `POST /_emulator/naver/quirks` ([`NaverQuirks`]) and Google `POST
//! /_emulator/google/id_token` ([`GoogleIdTokenSettings`]) and `POST
//! /_emulator/google/rotate_key`. `DELETE /_emulator/faults` clears them all.
//!
//! **Fast mode** (off by default; [`EmulatorConfig::fast_mode`], or
//! `EMULATOR_FAST=1` for the binary) is for load generators: `POST
//! /oauth/token` also accepts made-up codes `fast-<user id>` and answers the
//! access token `fast-<user id>`, for which `/v2/user/me` reports a synthetic
//! user with that id, without storing anything. See [`fast`].
//!
//! Not emulated for Kakao: `/v1/oidc/userinfo`, id_tokens on the refresh grant,
//! `/oauth/logout`, rate limits, and a browser session
//! (every authorize shows the consent page; `prompt=none` always answers
//! `consent_required`).

#![warn(missing_docs)]

mod api;
mod app;
mod config;
mod control;
mod control_wire;
pub mod fast;
mod filters;
mod google;
mod html;
mod jws;
mod naver;
mod oauth;
mod oidc;
mod params;
mod provider_controls;
mod reply;
mod routes;
mod state;
mod store;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use app::OAuthApp;
pub use config::{EmulatorConfig, TestUser};
pub use control::Control;
pub use control_wire::{
    Endpoint, Fault, FaultRequest, GoogleIdTokenSettings, IdTokenFault, NaverQuirks, Provider,
    Stats, TokenRequestSeen,
};
pub use google::config::{GoogleConfig, GoogleUser};
pub use naver::config::{NaverConfig, NaverUser};

use state::Shared;

/// How long [`RunningEmulator::shutdown`] waits for open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Bind `addr` (port 0 picks a free port), then serve on a spawned task.
///
/// Fails only if the address cannot be bound.
pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let shared = Arc::new(Shared::new(config, stopped.clone()));
    let mut signal = stopped;
    let server = warp::serve(routes::routes(shared.clone()))
        .incoming(listener)
        .graceful(async move {
            // An error means the sender is gone, which is a stop too.
            let _ = signal.wait_for(|stopping| *stopping).await;
        });
    let task = tokio::spawn(server.run());
    tracing::info!(%local_addr, "kakao emulator listening");
    Ok(RunningEmulator {
        local_addr,
        shared,
        stop,
        task: Some(task),
    })
}

/// A serving emulator. Dropping it stops the server too, without waiting.
pub struct RunningEmulator {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// `http://{ip}:{port}`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle on the test controls, sharing this emulator's state.
    pub fn control(&self) -> Control {
        Control {
            shared: self.shared.clone(),
        }
    }

    /// Stop accepting connections, release requests held by
    /// [`Fault::Hang`] or [`Fault::Delay`], and wait (up to 5 s) for open
    /// requests to finish.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        tracing::info!("kakao emulator stopped");
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
