//! Naver's registration in the emulator: the apps and the test accounts.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::app::OAuthApp;

/// The emulated Naver Developers apps and the accounts behind them.
#[derive(Debug, Clone)]
pub struct NaverConfig {
    /// Registered apps (`client_id`s ≤ 40 alphanumerics at Naver).
    pub apps: Vec<OAuthApp>,
    /// How long an authorization code stays redeemable (Naver's own TTL is
    /// undocumented; 10 minutes is the emulator's choice).
    pub code_ttl: Duration,
    /// The accounts offered on the consent page.
    pub users: Vec<NaverUser>,
}

impl Default for NaverConfig {
    /// One app `DemoNaverClientId` / `DemoNaverClientSecret` accepting any
    /// redirect URI, 10-minute codes, [`NaverUser::defaults`].
    fn default() -> Self {
        Self {
            apps: vec![OAuthApp::new(
                "DemoNaverClientId",
                "DemoNaverClientSecret",
                &[],
            )],
            code_ttl: Duration::from_secs(10 * 60),
            users: NaverUser::defaults(),
        }
    }
}

/// A Naver account that can be picked on the consent page. Every field but
/// the id is optional, as at Naver (the user may decline optional items);
/// `/v1/nid/me` reports exactly the ones that are `Some`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaverUser {
    /// The emulator's own name for the account (the consent form's value).
    /// Apps never see it, as they never see a Naver login name.
    pub key: String,
    /// `response.id` as an app registered before 2021-05-01 sees it (an
    /// INT64 as a string). `None`: the current per-app id, a 43-character
    /// base64url string that differs between apps ([`NaverUser::id_for`]).
    pub legacy_id: Option<String>,
    /// `response.nickname` (≤ 20 chars; a masked `abc***` when unset).
    pub nickname: Option<String>,
    /// `response.name` (≤ 10 chars).
    pub name: Option<String>,
    /// `response.email`, a contact address of any domain; Naver gives no
    /// verified flag.
    pub email: Option<String>,
    /// `response.profile_image` (URL).
    pub profile_image: Option<String>,
    /// `response.gender`: `F`, `M` or `U`.
    pub gender: Option<String>,
    /// `response.age`: a bucket like `30-39`.
    pub age: Option<String>,
    /// `response.birthday`: `MM-DD`.
    pub birthday: Option<String>,
    /// `response.birthyear`: `YYYY`.
    pub birthyear: Option<String>,
    /// `response.mobile`: `010-0000-0000`.
    pub mobile: Option<String>,
}

impl NaverUser {
    /// `response.id` for the app `client_id`: the legacy id when set, else
    /// base64url(SHA-256) of the app and the account, so the same person
    /// has a different id in each app, as at Naver.
    pub fn id_for(&self, client_id: &str) -> String {
        match &self.legacy_id {
            Some(id) => id.clone(),
            None => URL_SAFE_NO_PAD.encode(Sha256::digest(
                format!("naver-emulator\n{client_id}\n{}", self.key).as_bytes(),
            )),
        }
    }

    /// Four accounts covering what a client must handle:
    ///
    /// - `gildong`: nickname "길동이 🌿", name "홍길동", every field;
    /// - `bear`: "🐻 곰돌이 🍯", declined email, mobile and birthday;
    /// - `openapi`: Naver's documented example ("오픈 API"), with a legacy
    ///   all-digit id `32742776`;
    /// - `masked`: only a masked nickname `nid***` and a non-Naver email.
    pub fn defaults() -> Vec<NaverUser> {
        let some = |s: &str| Some(s.to_owned());
        vec![
            NaverUser {
                key: "gildong".into(),
                legacy_id: None,
                nickname: some("길동이 🌿"),
                name: some("홍길동"),
                email: some("gildong@naver.com"),
                profile_image: some("https://phinf.pstatic.net/contact/emu/gildong.png"),
                gender: some("M"),
                age: some("30-39"),
                birthday: some("03-01"),
                birthyear: some("1990"),
                mobile: some("010-1234-5678"),
            },
            NaverUser {
                key: "bear".into(),
                legacy_id: None,
                nickname: some("🐻 곰돌이 🍯"),
                name: some("곰돌이"),
                email: None,
                profile_image: some("https://phinf.pstatic.net/contact/emu/bear.png"),
                gender: some("U"),
                age: some("20-29"),
                birthday: None,
                birthyear: None,
                mobile: None,
            },
            NaverUser {
                key: "openapi".into(),
                legacy_id: some("32742776"),
                nickname: some("OpenAPI"),
                name: some("오픈 API"),
                email: some("openapi@naver.com"),
                profile_image: some("https://ssl.pstatic.net/static/pwe/address/nodata_33x33.gif"),
                gender: some("F"),
                age: some("40-49"),
                birthday: some("10-01"),
                birthyear: some("1900"),
                mobile: some("010-0000-0000"),
            },
            NaverUser {
                key: "masked".into(),
                legacy_id: None,
                nickname: some("nid***"),
                name: None,
                email: some("someone@example.com"),
                profile_image: None,
                gender: None,
                age: None,
                birthday: None,
                birthyear: None,
                mobile: None,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_per_app_except_legacy_ones() {
        let users = NaverUser::defaults();
        let gildong = &users[0];
        let a = gildong.id_for("AppA");
        assert_eq!(a, gildong.id_for("AppA"));
        assert_ne!(a, gildong.id_for("AppB"));
        assert_ne!(a, users[1].id_for("AppA"));
        assert!(a.len() <= 64);
        assert_eq!(users[2].id_for("AppA"), "32742776");
    }
}
