//! What the emulator accepts (its app registrations) and who can log in:
//! Kakao's here, Naver's and Google's in their modules.

use std::fmt;
use std::time::Duration;

use crate::google::config::GoogleConfig;
use crate::naver::config::NaverConfig;

/// The emulated Kakao app registration and the test accounts behind it,
/// and Naver's and Google's registrations ([`EmulatorConfig::naver`],
/// [`EmulatorConfig::google`]).
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The REST API key accepted as `client_id`.
    pub client_id: String,
    /// When `Some`, `POST /oauth/token` requires this `client_secret` in the
    /// form body (KOE010 otherwise), as with Kakao's "Client Secret: ON".
    pub client_secret: Option<String>,
    /// The admin key accepted as `Authorization: KakaoAK {key}` on
    /// `/v2/user/me`, `/v1/user/logout` and `/v1/user/unlink`. `None` refuses
    /// every admin-key call.
    pub admin_key: Option<String>,
    /// Registered redirect URIs, matched exactly (trailing slash included).
    /// Empty accepts any absolute `http`/`https` URI.
    pub redirect_uris: Vec<String>,
    /// How long an authorization code stays redeemable.
    pub code_ttl: Duration,
    /// The accounts offered on the consent page.
    pub users: Vec<TestUser>,
    /// Accept made-up `fast-<user id>` codes and answer stateless tokens, for
    /// load generators (see [`crate::fast`]). Off by default; never turn it
    /// on where the emulator stands in for Kakao in a test of the login's
    /// safety checks.
    pub fast_mode: bool,
    /// Naver's apps and accounts (served under `/naver`).
    pub naver: NaverConfig,
    /// Google's OAuth clients, issuer and accounts (served under `/google`).
    pub google: GoogleConfig,
}

impl Default for EmulatorConfig {
    /// `demo-rest-api-key`, no client secret, no admin key, any redirect URI,
    /// 10-minute codes, [`TestUser::defaults`] and fast mode off; Naver's and
    /// Google's defaults ([`NaverConfig::default`], [`GoogleConfig::default`]).
    fn default() -> Self {
        Self {
            client_id: "demo-rest-api-key".to_owned(),
            client_secret: None,
            admin_key: None,
            redirect_uris: Vec::new(),
            code_ttl: Duration::from_secs(10 * 60),
            users: TestUser::defaults(),
            fast_mode: false,
            naver: NaverConfig::default(),
            google: GoogleConfig::default(),
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("EmulatorConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &redact(&self.client_secret))
            .field("admin_key", &redact(&self.admin_key))
            .field("redirect_uris", &self.redirect_uris)
            .field("code_ttl", &self.code_ttl)
            .field("users", &self.users)
            .field("fast_mode", &self.fast_mode)
            .field("naver", &self.naver)
            .field("google", &self.google)
            .finish()
    }
}

/// A Kakao account that can be picked on the consent page.
///
/// `/v2/user/me` reports exactly these values; an account with `email: None`
/// is shown as one that did not consent to sharing its email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Kakao user id; real ones are about 10 digits, beyond `i32`.
    pub id: i64,
    /// `kakao_account.profile.nickname` (Korean and emoji are normal).
    pub nickname: String,
    /// `kakao_account.profile.profile_image_url` (640px), omitted when `None`.
    pub profile_image_url: Option<String>,
    /// `kakao_account.profile.thumbnail_image_url` (110px), omitted when `None`.
    pub thumbnail_image_url: Option<String>,
    /// `kakao_account.email`; `None` means not consented (`email_needs_agreement: true`).
    pub email: Option<String>,
    /// `kakao_account.is_email_valid` (only reported with an email).
    pub is_email_valid: bool,
    /// `kakao_account.is_email_verified` (only reported with an email).
    pub is_email_verified: bool,
    /// `kakao_account.profile.is_default_nickname`.
    pub is_default_nickname: bool,
    /// `kakao_account.profile.is_default_image`.
    pub is_default_image: bool,
}

impl TestUser {
    /// Four accounts covering the cases a client must handle:
    ///
    /// - `3208537903` "홍길동 🙂": valid, verified email and profile images;
    /// - `3208537904` "김카카오": an email that is not valid;
    /// - `3208537905` "🐱 고양이 😺": no email at all;
    /// - `3208537906` "닉네임을 등록해주세요": Kakao's replacement nickname,
    ///   default nickname and image flags, no images.
    pub fn defaults() -> Vec<TestUser> {
        let cdn = |name: &str, size: &str| {
            Some(format!(
                "https://k.kakaocdn.net/dn/emu/{name}/img_{size}.jpg"
            ))
        };
        vec![
            TestUser {
                id: 3_208_537_903,
                nickname: "홍길동 🙂".to_owned(),
                profile_image_url: cdn("hong", "640x640"),
                thumbnail_image_url: cdn("hong", "110x110"),
                email: Some("hong@example.com".to_owned()),
                is_email_valid: true,
                is_email_verified: true,
                is_default_nickname: false,
                is_default_image: false,
            },
            TestUser {
                id: 3_208_537_904,
                nickname: "김카카오".to_owned(),
                profile_image_url: cdn("kim", "640x640"),
                thumbnail_image_url: cdn("kim", "110x110"),
                email: Some("kim@example.com".to_owned()),
                is_email_valid: false,
                is_email_verified: true,
                is_default_nickname: false,
                is_default_image: false,
            },
            TestUser {
                id: 3_208_537_905,
                nickname: "🐱 고양이 😺".to_owned(),
                profile_image_url: cdn("cat", "640x640"),
                thumbnail_image_url: cdn("cat", "110x110"),
                email: None,
                is_email_valid: false,
                is_email_verified: false,
                is_default_nickname: false,
                is_default_image: false,
            },
            TestUser {
                id: 3_208_537_906,
                nickname: "닉네임을 등록해주세요".to_owned(),
                profile_image_url: None,
                thumbnail_image_url: None,
                email: Some("default@example.com".to_owned()),
                is_email_valid: true,
                is_email_verified: true,
                is_default_nickname: true,
                is_default_image: true,
            },
        ]
    }
}
