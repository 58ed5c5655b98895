//! Naver Login, the classic OAuth 2.0 flow: the authorize URL (no PKCE and
//! no nonce, which the classic path does not take), the code exchange
//! (with the client secret and the state again, as Naver wants), the
//! profile `/v1/nid/me`, and the revocation of our grant (Naver's refresh
//! token). Naver's answer shapes, errors inside HTTP 200 among them, are
//! read in its `answers` and `profile` modules into the three kinds of
//! [`ProviderError`].
//!
//! Every call passes a circuit breaker of Naver's own ([`Circuit`], the one
//! Kakao's client uses), so a Naver outage neither waits out the timeout on
//! every callback nor trips Kakao's; and every call is timed into
//! `auth_provider_request_duration_seconds` with provider `naver`.

use std::{sync::Arc, time::Instant};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{
    configuration::NaverSettings,
    domain::AuthorizationCode,
    kakao::{circuit::Circuit, endpoint},
    metrics::{KakaoOutcome, Metrics},
    providers::api::{Provider, ProviderError, SignedIn},
};

pub(crate) mod answers;
pub(crate) mod profile;

/// The largest answer read from Naver; its real ones are well under 2 KiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Talks to Naver. Cheap to share: holds the providers' connection pool.
pub struct NaverClient {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    client_id: String,
    client_secret: SecretString,
    redirect_uri: String,
    authorize_url: Url,
    token_url: Url,
    revoke_url: Url,
    profile_url: Url,
    circuit: Circuit,
}

impl NaverClient {
    /// The client for `settings`, calling through `http` (the providers'
    /// shared pool) and recording into `metrics`.
    pub fn new(settings: &NaverSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        NaverClient {
            http,
            metrics,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_uri: settings.redirect_uri.to_string(),
            authorize_url: endpoint(&settings.auth_base_url, "/oauth2.0/authorize"),
            token_url: endpoint(&settings.auth_base_url, "/oauth2.0/token"),
            revoke_url: endpoint(&settings.auth_base_url, "/oauth2.0/revoke"),
            profile_url: endpoint(&settings.api_base_url, "/v1/nid/me"),
            circuit: Circuit::named("naver", settings.http.circuit_open),
        }
    }

    /// The authorize URL of one attempt (no PKCE, no nonce).
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = self.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state);
        url
    }

    /// Exchanges the code (with the state, as Naver wants it) and reads the profile.
    ///
    /// The grant is Naver's refresh token: revoking it ends the access
    /// token too, and it outlives the access token (an hour).
    pub async fn sign_in(
        &self,
        code: &AuthorizationCode,
        state: &str,
    ) -> Result<SignedIn, ProviderError> {
        // A form body, not Naver's documented query string: the code and
        // the secret stay out of URLs (and so out of access logs).
        let exchange = self.http.post(self.token_url.clone()).form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
            ("code", code.expose()),
            ("state", state),
        ]);
        let tokens = self.call("token", exchange, answers::read_tokens).await?;
        let profile = self
            .http
            .get(self.profile_url.clone())
            .bearer_auth(tokens.access_token.expose_secret());
        let user = self.call("user_me", profile, profile::read_profile).await?;
        Ok(SignedIn {
            user,
            grant: tokens.refresh_token,
        })
    }

    /// Revokes the grant (Naver's refresh token), and with it its access
    /// token. Naver answers success for a token already revoked too.
    pub async fn revoke(&self, grant: &SecretString) -> Result<(), ProviderError> {
        let request = self.http.post(self.revoke_url.clone()).form(&[
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("token", grant.expose_secret()),
            ("token_type_hint", "refresh_token"),
        ]);
        self.call("revoke", request, answers::read_revoke).await
    }

    /// Sends `request` unless the circuit is open, reads the answer with
    /// `read`, tells the circuit whether Naver was down (any `Unavailable`:
    /// no answer in time, a 5xx or 429, a `server_error` word, an answer
    /// Naver could not have meant) and times the call as `endpoint`.
    async fn call<T>(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
        read: fn(reqwest::StatusCode, &[u8]) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let permit = self
            .circuit
            .permit(Instant::now())
            .map_err(|_| ProviderError::Unavailable("circuit open".into()))?;
        let started = Instant::now();
        let result = match fetch(request).await {
            Ok((status, body)) => read(status, &body),
            Err(e) => Err(e),
        };
        let outage = matches!(result, Err(ProviderError::Unavailable(_)));
        permit.finish(outage, Instant::now());
        self.metrics.provider_request(
            Provider::Naver,
            endpoint,
            outcome(&result),
            started.elapsed(),
        );
        result
    }
}

/// The status and body of `request`'s answer, the body capped at
/// [`MAX_ANSWER_BYTES`].
async fn fetch(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderError> {
    let mut response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ProviderError::Unavailable("answer too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// A failure to get an answer, as a label free of URLs (which could hold
/// request data).
fn transport_error(e: reqwest::Error) -> ProviderError {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "transport error"
    };
    ProviderError::Unavailable(what.into())
}

/// The metrics label of a Naver request's result.
fn outcome<T>(result: &Result<T, ProviderError>) -> KakaoOutcome {
    match result {
        Ok(_) => KakaoOutcome::Ok,
        Err(ProviderError::Rejected(_)) => KakaoOutcome::Rejected,
        Err(ProviderError::Unavailable(_)) => KakaoOutcome::Unavailable,
        Err(ProviderError::Misconfigured(_)) => KakaoOutcome::Misconfigured,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::configuration::ProviderHttp;

    fn client(base: &str) -> NaverClient {
        service_kit::crypto::install();
        let settings = NaverSettings {
            client_id: "DemoNaverClientId".into(),
            client_secret: SecretString::from("DemoNaverClientSecret"),
            redirect_uri: Url::parse("http://localhost:8080/auth/naver/callback").unwrap(),
            auth_base_url: Url::parse(base).unwrap(),
            api_base_url: Url::parse("https://openapi.naver.com").unwrap(),
            http: ProviderHttp {
                connect_timeout: Duration::from_secs(1),
                request_timeout: Duration::from_secs(1),
                circuit_open: Duration::from_secs(15),
            },
        };
        NaverClient::new(&settings, reqwest::Client::new(), Arc::new(Metrics::new()))
    }

    #[test]
    fn the_authorize_url_is_the_classic_one_with_the_state_and_nothing_more() {
        let url = client("https://nid.naver.com").authorize_url("st&1 +/=");
        assert_eq!(
            url.as_str(),
            "https://nid.naver.com/oauth2.0/authorize?response_type=code\
             &client_id=DemoNaverClientId\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fauth%2Fnaver%2Fcallback\
             &state=st%261+%2B%2F%3D"
        );
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let naver = client("http://127.0.0.1:9/naver/");
        assert_eq!(naver.authorize_url("s").path(), "/naver/oauth2.0/authorize");
        assert_eq!(
            naver.token_url.as_str(),
            "http://127.0.0.1:9/naver/oauth2.0/token"
        );
        assert_eq!(naver.revoke_url.path(), "/naver/oauth2.0/revoke");
        assert_eq!(
            naver.profile_url.as_str(),
            "https://openapi.naver.com/v1/nid/me"
        );
    }
}
