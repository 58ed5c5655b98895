//! The Google client against the emulated Google over real HTTP (started
//! in-process on port 0): endpoints from discovery, the authorize URL, the
//! consent page answered as a browser would, the code exchange, every
//! spoiled id_token refused, key rotation, outages, and revocation.

use std::{sync::Arc, time::Duration};

use auth_proto::Reason;
use auth_service::{
    configuration::{GoogleSettings, ProviderHttp},
    domain::AuthorizationCode,
    error::AuthError,
    google::GoogleClient,
    metrics::Metrics,
    providers::{AuthorizeParams, Provider, ProviderError, SignedIn},
};
use kakao_emulator::GoogleIdTokenSettings;
use kakao_emulator::{
    EmulatorConfig, Endpoint, Fault, GoogleConfig, IdTokenFault, RunningEmulator, start,
};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

const CLIENT_ID: &str = "demo-google-client.apps.googleusercontent.com";
const SECRET: &str = "GOCSPX-demo-google-secret";
const REDIRECT: &str = "http://localhost:8080/auth/google/callback";
const KIM: &str = "110248495921238986420";
const UNVERIFIED: &str = "108516029483746120935";
const NONCE: &str = "nonce-of-this-login";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// `VERIFIER`'s S256 challenge (RFC 7636, appendix B).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A running emulator and a client configured for it.
struct Google {
    emu: RunningEmulator,
    client: GoogleClient,
    metrics: Arc<Metrics>,
}

impl Google {
    async fn start() -> Google {
        let emu = start(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let issuer = format!("{}/google", emu.base_url());
        Google::with(emu, &issuer, Duration::from_secs(5))
    }

    fn with(emu: RunningEmulator, issuer: &str, timeout: Duration) -> Google {
        service_kit::crypto::install();
        let settings = GoogleSettings {
            client_id: CLIENT_ID.into(),
            client_secret: SecretString::from(SECRET),
            redirect_uri: Url::parse(REDIRECT).unwrap(),
            issuer: Url::parse(issuer).unwrap(),
            http: ProviderHttp {
                connect_timeout: timeout,
                request_timeout: timeout,
                circuit_open: Duration::from_secs(15),
            },
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let metrics = Arc::new(Metrics::new());
        let client = GoogleClient::new(&settings, http, metrics.clone());
        Google {
            emu,
            client,
            metrics,
        }
    }

    fn calls(&self, endpoint: Endpoint) -> usize {
        self.emu.control().calls(endpoint)
    }

    async fn authorize_url(&self) -> Result<Url, ProviderError> {
        self.client
            .authorize_url(&AuthorizeParams {
                state: "sealed-state",
                nonce: NONCE,
                code_challenge: CHALLENGE,
            })
            .await
    }

    /// A code, as `sub` consenting on the page the authorize URL opens.
    async fn code(&self, sub: &str) -> AuthorizationCode {
        let url = self.authorize_url().await.unwrap();
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = browser.get(url.clone()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the consent page is shown");
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("user_id".into(), sub.into()));
        form.push(("action".into(), "agree".into()));
        let decision = format!("{}/google/o/oauth2/v2/auth/decision", self.emu.base_url());
        let answer = browser.post(decision).form(&form).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND);
        let location = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "sealed-state");
        AuthorizationCode::parse(&query["code"]).unwrap()
    }

    async fn sign_in(&self, sub: &str) -> Result<SignedIn, AuthError> {
        let code = self.code(sub).await;
        self.client.sign_in(&code, VERIFIER, NONCE).await
    }
}

/// The static message of a refusal for `provider_rejected`.
fn refusal(result: Result<SignedIn, AuthError>) -> &'static str {
    match result {
        Err(AuthError::Refused { reason, message }) => {
            assert_eq!(reason, Reason::ProviderRejected);
            message
        }
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, got a sign-in"),
    }
}

fn is_unavailable(result: &Result<SignedIn, AuthError>) -> bool {
    matches!(
        result,
        Err(AuthError::ProviderUnavailable(
            Provider::Google,
            ProviderError::Unavailable(_)
        ))
    )
}

#[tokio::test]
async fn the_authorize_url_comes_from_discovery_with_the_s256_challenge_nonce_and_state() {
    let google = Google::start().await;
    assert_eq!(
        google.calls(Endpoint::GoogleDiscovery),
        0,
        "new does no I/O"
    );
    let url = google.authorize_url().await.unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{}/google/o/oauth2/v2/auth", google.emu.base_url()).as_str())
    );
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile"),
        ("state", "sealed-state"),
        ("nonce", NONCE),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
    ] {
        assert_eq!(query.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert!(!query.contains_key("prompt"));
    google.authorize_url().await.unwrap();
    assert_eq!(
        google.calls(Endpoint::GoogleDiscovery),
        1,
        "discovery is cached"
    );
}

#[tokio::test]
async fn a_consented_code_signs_in_the_sub_and_keeps_a_verified_email() {
    let google = Google::start().await;
    let first = google.sign_in(KIM).await.unwrap();
    assert_eq!(first.user.subject, KIM);
    assert_eq!(first.user.email.as_deref(), Some("kim.google@gmail.com"));
    assert_eq!(first.user.nickname, "김구글 🙂");
    assert_eq!(
        first.user.profile_image_url.as_deref(),
        Some("https://lh3.googleusercontent.com/a/emu-kim=s96-c")
    );
    let seen = google.emu.control().last_google_token_request().unwrap();
    assert_eq!(seen.grant_type, "authorization_code");
    assert!(seen.had_client_secret && seen.had_code_verifier);
    assert_eq!(seen.redirect_uri.as_deref(), Some(REDIRECT));
    // Offline access: the first consent brings a refresh token, the grant;
    // later sign-ins bring none (the stored one is kept).
    let grant = first.grant.unwrap();
    assert!(grant.expose_secret().starts_with("1//"), "a refresh token");
    let again = google.sign_in(KIM).await.unwrap();
    assert!(again.grant.is_none());
    assert_eq!(google.calls(Endpoint::GoogleJwks), 1, "the JWKS is cached");
    let metrics = google.metrics.encode().unwrap();
    for endpoint in ["discovery", "token", "jwks"] {
        let line = format!(
            r#"auth_provider_request_duration_seconds_count{{provider="google",endpoint="{endpoint}",outcome="ok"}}"#
        );
        assert!(metrics.contains(&line), "{line}");
    }
}

#[tokio::test]
async fn an_unverified_email_is_dropped_and_a_string_true_counts_as_verified() {
    let google = Google::start().await;
    let unverified = google.sign_in(UNVERIFIED).await.unwrap();
    assert_eq!(unverified.user.subject, UNVERIFIED);
    assert_eq!(unverified.user.email, None);
    google
        .emu
        .control()
        .set_google_id_token(GoogleIdTokenSettings {
            fault: None,
            email_verified_as_string: true,
        });
    let kim = google.sign_in(KIM).await.unwrap();
    assert_eq!(kim.user.email.as_deref(), Some("kim.google@gmail.com"));
}

#[tokio::test]
async fn each_spoiled_id_token_is_refused_naming_the_failed_check() {
    let google = Google::start().await;
    let cases = [
        (IdTokenFault::WrongSignature, "signature is invalid"),
        (IdTokenFault::WrongIssuer, "wrong issuer"),
        (IdTokenFault::WrongAudience, "another app"),
        (IdTokenFault::Expired, "expired"),
        (IdTokenFault::NoNonce, "nonce does not match"),
        (IdTokenFault::WrongNonce, "nonce does not match"),
        (IdTokenFault::AlgNone, "not signed with RS256"),
        (IdTokenFault::Hs256, "not signed with RS256"),
        (IdTokenFault::Missing, "no id_token"),
    ];
    for (fault, expected) in cases {
        google.emu.control().set_google_id_token_fault(Some(fault));
        let message = refusal(google.sign_in(KIM).await);
        assert!(message.contains(expected), "{fault:?}: {message}");
    }
    google.emu.control().clear_faults();
    assert_eq!(google.sign_in(KIM).await.unwrap().user.subject, KIM);
}

#[tokio::test]
async fn the_issuer_is_accepted_without_its_scheme_too() {
    // The emulator's issuer is fixed at start, so its port is chosen first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = EmulatorConfig {
        google: GoogleConfig {
            issuer: Some(format!("127.0.0.1:{port}/google")),
            ..GoogleConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let emu = start(config, format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let issuer = format!("{}/google", emu.base_url());
    let google = Google::with(emu, &issuer, Duration::from_secs(5));
    assert_eq!(google.sign_in(KIM).await.unwrap().user.subject, KIM);
}

#[tokio::test]
async fn a_rotated_key_refetches_the_jwks_once_and_signs_in() {
    let google = Google::start().await;
    google.sign_in(KIM).await.unwrap();
    google.emu.control().rotate_google_signing_key();
    assert_eq!(google.sign_in(KIM).await.unwrap().user.subject, KIM);
    assert_eq!(google.calls(Endpoint::GoogleJwks), 2);
    // A kid Google never published, right after: refused without a fetch.
    google
        .emu
        .control()
        .set_google_id_token_fault(Some(IdTokenFault::UnknownKid));
    let message = refusal(google.sign_in(KIM).await);
    assert!(message.contains("key google does not publish"), "{message}");
    assert_eq!(
        google.calls(Endpoint::GoogleJwks),
        2,
        "the refetch floor holds"
    );
}

#[tokio::test]
async fn a_reused_code_is_refused() {
    let google = Google::start().await;
    let code = google.code(KIM).await;
    google.client.sign_in(&code, VERIFIER, NONCE).await.unwrap();
    let reused = google.client.sign_in(&code, VERIFIER, NONCE).await;
    assert_eq!(refusal(reused), "google refused the authorization");
    let code = google.code(KIM).await;
    let wrong_verifier = google
        .client
        .sign_in(&code, "x".repeat(43).as_str(), NONCE)
        .await;
    assert_eq!(refusal(wrong_verifier), "google refused the authorization");
}

#[tokio::test]
async fn outages_of_discovery_token_and_jwks_are_unavailable() {
    let google = Google::start().await;
    let control = google.emu.control();
    let down = Fault::Status {
        status: 503,
        body: serde_json::json!({}),
    };
    control.set_fault(Endpoint::GoogleDiscovery, down.clone());
    assert!(matches!(
        google.authorize_url().await,
        Err(ProviderError::Unavailable(_))
    ));
    control.clear_faults();
    let code = google.code(KIM).await;
    control.set_fault(Endpoint::GoogleToken, down.clone());
    assert!(is_unavailable(
        &google.client.sign_in(&code, VERIFIER, NONCE).await
    ));
    control.clear_faults();
    control.set_fault(Endpoint::GoogleJwks, down);
    assert!(is_unavailable(&google.sign_in(KIM).await));
}

#[tokio::test]
async fn a_hanging_token_endpoint_times_out_as_unavailable() {
    let emu = start(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let issuer = format!("{}/google", emu.base_url());
    let google = Google::with(emu, &issuer, Duration::from_millis(700));
    let code = google.code(KIM).await;
    google
        .emu
        .control()
        .set_fault(Endpoint::GoogleToken, Fault::Hang);
    assert!(is_unavailable(
        &google.client.sign_in(&code, VERIFIER, NONCE).await
    ));
}

#[tokio::test]
async fn revoke_ends_the_grant_and_a_grant_already_gone_counts_as_revoked() {
    let google = Google::start().await;
    let grant = google.sign_in(KIM).await.unwrap().grant.unwrap();
    assert_eq!(google.client.revoke(&grant).await, Ok(()));
    assert_eq!(google.calls(Endpoint::GoogleRevoke), 1);
    // After revocation the next consent brings a new refresh token.
    let next = google.sign_in(KIM).await.unwrap().grant.unwrap();
    assert!(next.expose_secret().starts_with("1//"));
    assert_eq!(
        google.client.revoke(&grant).await,
        Ok(()),
        "already revoked"
    );
    google.emu.control().set_fault(
        Endpoint::GoogleRevoke,
        Fault::Status {
            status: 503,
            body: serde_json::json!({}),
        },
    );
    assert!(matches!(
        google.client.revoke(&next).await,
        Err(ProviderError::Unavailable(_))
    ));
}
