//! Google's registration in the emulator: the OAuth clients, the issuer
//! and the test accounts.

use std::time::Duration;

use crate::app::OAuthApp;

/// The emulated Google Cloud project's OAuth clients and the accounts
/// behind them.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// Registered OAuth clients ("Web application" type).
    pub apps: Vec<OAuthApp>,
    /// `iss` of the discovery document and of every id_token. `None`: the
    /// emulator's own Google base as the request reached it,
    /// `http://{Host}/google`, which is also where the discovery document
    /// lives (OpenID Connect Discovery wants the two equal). Set it to
    /// `https://accounts.google.com` or `accounts.google.com` to mint
    /// tokens with Google's real issuer strings.
    pub issuer: Option<String>,
    /// How long an authorization code stays redeemable (undocumented at
    /// Google; 10 minutes is the emulator's choice).
    pub code_ttl: Duration,
    /// Refuse authorize requests without an S256 `code_challenge`. Google
    /// does not require PKCE of web clients, so this is off by default; a
    /// test that wants to prove its client always sends one turns it on.
    pub require_pkce: bool,
    /// The accounts offered on the consent page.
    pub users: Vec<GoogleUser>,
}

impl Default for GoogleConfig {
    /// One client `demo-google-client.apps.googleusercontent.com` /
    /// `GOCSPX-demo-google-secret` accepting any redirect URI, issuer from
    /// the request, 10-minute codes, PKCE optional, [`GoogleUser::defaults`].
    fn default() -> Self {
        Self {
            apps: vec![OAuthApp::new(
                "demo-google-client.apps.googleusercontent.com",
                "GOCSPX-demo-google-secret",
                &[],
            )],
            issuer: None,
            code_ttl: Duration::from_secs(10 * 60),
            require_pkce: false,
            users: GoogleUser::defaults(),
        }
    }
}

/// A Google account that can be picked on the consent page. The id_token
/// and `/v1/userinfo` report these values, the email ones with the `email`
/// scope, the profile ones with `profile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleUser {
    /// `sub`: a long digit string (never an integer for clients).
    pub sub: String,
    /// `email`; `None` for an account that shares none.
    pub email: Option<String>,
    /// `email_verified` (reported only with an email).
    pub email_verified: bool,
    /// `name`.
    pub name: Option<String>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `picture` (URL).
    pub picture: Option<String>,
    /// `locale`.
    pub locale: Option<String>,
}

impl GoogleUser {
    /// Three accounts covering what a client must handle:
    ///
    /// - `110248495921238986420` "김구글 🙂": a verified Gmail address;
    /// - `108516029483746120935` "Émile 🐙 Unverified": an email with
    ///   `email_verified: false`;
    /// - `117030221906781234567` "이메일 없는 사용자 😶": no email at all.
    pub fn defaults() -> Vec<GoogleUser> {
        let some = |s: &str| Some(s.to_owned());
        vec![
            GoogleUser {
                sub: "110248495921238986420".into(),
                email: some("kim.google@gmail.com"),
                email_verified: true,
                name: some("김구글 🙂"),
                given_name: some("구글"),
                family_name: some("김"),
                picture: some("https://lh3.googleusercontent.com/a/emu-kim=s96-c"),
                locale: some("ko"),
            },
            GoogleUser {
                sub: "108516029483746120935".into(),
                email: some("emile@example.org"),
                email_verified: false,
                name: some("Émile 🐙 Unverified"),
                given_name: some("Émile"),
                family_name: some("Unverified"),
                picture: None,
                locale: some("fr"),
            },
            GoogleUser {
                sub: "117030221906781234567".into(),
                email: None,
                email_verified: false,
                name: some("이메일 없는 사용자 😶"),
                given_name: None,
                family_name: None,
                picture: some("https://lh3.googleusercontent.com/a/emu-noemail=s96-c"),
                locale: None,
            },
        ]
    }
}
