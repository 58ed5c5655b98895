//! The profile of `/v2/user/me`: the fields we keep, read from Kakao's
//! current `kakao_account.profile` or its legacy `properties`.

use serde::Deserialize;

use super::KakaoUser;

/// The body of `/v2/user/me`.
#[derive(Deserialize)]
pub(super) struct UserMe {
    id: i64,
    #[serde(default)]
    properties: Option<Properties>,
    #[serde(default)]
    kakao_account: Option<KakaoAccount>,
}

#[derive(Deserialize, Default)]
struct Properties {
    nickname: Option<String>,
    profile_image: Option<String>,
    thumbnail_image: Option<String>,
}

#[derive(Deserialize, Default)]
struct KakaoAccount {
    profile: Option<Profile>,
    email: Option<String>,
    is_email_valid: Option<bool>,
    is_email_verified: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Profile {
    nickname: Option<String>,
    profile_image_url: Option<String>,
    thumbnail_image_url: Option<String>,
    is_default_image: Option<bool>,
}

impl UserMe {
    /// The fields we keep: images unless Kakao's default, the email only
    /// when valid and verified.
    pub(super) fn into_user(self) -> KakaoUser {
        let account = self.kakao_account.unwrap_or_default();
        let props = self.properties.unwrap_or_default();
        let profile = account.profile.unwrap_or_default();
        let default_image = profile.is_default_image.unwrap_or(false);
        let image = |url: Option<String>| url.filter(|u| !u.is_empty() && !default_image);
        let email = match (account.is_email_valid, account.is_email_verified) {
            (Some(true), Some(true)) => account.email.filter(|e| !e.is_empty()),
            _ => None,
        };
        KakaoUser {
            id: self.id,
            nickname: profile.nickname.or(props.nickname).unwrap_or_default(),
            profile_image_url: image(profile.profile_image_url.or(props.profile_image)),
            thumbnail_image_url: image(profile.thumbnail_image_url.or(props.thumbnail_image)),
            email,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_kept_only_when_valid_and_verified() {
        let parse = |json: &str| serde_json::from_str::<UserMe>(json).unwrap().into_user();
        let full = parse(
            r#"{"id":3208537903,"kakao_account":{"profile":{"nickname":"홍길동 🙂","profile_image_url":"https://k/p.jpg","thumbnail_image_url":"https://k/t.jpg","is_default_image":false},"is_email_valid":true,"is_email_verified":true,"email":"a@example.com"}}"#,
        );
        assert_eq!(full.email.as_deref(), Some("a@example.com"));
        assert_eq!(full.nickname, "홍길동 🙂");
        assert_eq!(full.profile_image_url.as_deref(), Some("https://k/p.jpg"));
        let invalid = parse(
            r#"{"id":1,"kakao_account":{"is_email_valid":false,"is_email_verified":true,"email":"b@example.com"}}"#,
        );
        assert_eq!(invalid.email, None);
        let default_image = parse(
            r#"{"id":1,"kakao_account":{"profile":{"nickname":"n","profile_image_url":"https://k/d.jpg","is_default_image":true}}}"#,
        );
        assert_eq!(default_image.profile_image_url, None);
        let legacy = parse(r#"{"id":1,"properties":{"nickname":"old"}}"#);
        assert_eq!(legacy.nickname, "old");
    }
}
