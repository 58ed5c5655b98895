//! The real edge on port 0 in front of a fake auth-service (a tonic server
//! with canned answers and `x-auth-error` errors, a real Ed25519 key set that
//! signs real access tokens, and tonic-health's health service), driven with
//! reqwest with redirects disabled. One module per route or concern.

mod fake_auth;
mod fake_feed;
mod harness;

mod cache;
mod callback;
mod cookies_hardening;
mod cors_csrf;
mod demo;
mod limits;
mod login;
mod logout_all;
mod me;
mod operations;
mod providers;
mod rate_limits;
mod refresh_logout;
mod request_id;
mod single_flight;
