//! What every provider client speaks: the person a provider vouched for,
//! a completed sign-in, the per-attempt authorize values, and the three
//! ways a provider call fails. A leaf module: the clients
//! ([`crate::kakao`], [`crate::naver`], [`crate::google`]) and the error
//! mapping import it, and [`super::Providers`] imports the clients.

pub use auth_proto::v1::Provider;
use secrecy::SecretString;

/// What went wrong talking to a provider. Messages never include a code, a
/// token or a response body: the label is a short error word (`KOE320`,
/// `invalid_grant`, `HTTP 503`, `timeout`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the code or the token (or its id_token failed
    /// verification).
    #[error("provider refused the request ({0})")]
    Rejected(String),
    /// The provider refused our own credentials or configuration: an
    /// operator must fix the settings.
    #[error("provider refused the client configuration ({0})")]
    Misconfigured(String),
    /// The provider timed out, could not be reached, answered 5xx,
    /// rate-limited us or sent something unreadable. Worth retrying later.
    #[error("provider is unavailable ({0})")]
    Unavailable(String),
}

/// The person a provider vouched for, and the profile it shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUser {
    /// The provider's stable id of the person (Kakao's user id in decimal,
    /// Naver's `response.id`, Google's `sub`); never an e-mail.
    pub subject: String,
    /// Display name; may be empty.
    pub nickname: String,
    /// Profile image URL, when shared (and not the provider's default).
    pub profile_image_url: Option<String>,
    /// Thumbnail URL, when the provider has one.
    pub thumbnail_image_url: Option<String>,
    /// Only an address the provider says is verified.
    pub email: Option<String>,
}

/// A completed sign-in at a provider.
pub struct SignedIn {
    /// Who signed in.
    pub user: ProviderUser,
    /// What to present to revoke our grant when the identity is unlinked
    /// (Naver's refresh token; Google's refresh token, else its access
    /// token); `None` when the provider has no such call for us (Kakao:
    /// its admin unlink needs only the user id).
    pub grant: Option<SecretString>,
}

/// The per-attempt values of an authorize URL.
pub struct AuthorizeParams<'a> {
    /// The sealed login state.
    pub state: &'a str,
    /// The OIDC nonce (sent by providers that take one).
    pub nonce: &'a str,
    /// The PKCE S256 challenge (sent by providers that take one).
    pub code_challenge: &'a str,
}
