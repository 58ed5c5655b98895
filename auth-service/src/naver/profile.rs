//! The profile of `/v1/nid/me`: `{"resultcode","message","response":{..}}`,
//! a person only with `resultcode` `"00"` and a `response.id`. Every other
//! field may be missing (the user declined it), and Naver sends fields we
//! do not keep (`email` among them, see [`Profile`]).

use reqwest::StatusCode;
use serde::Deserialize;

use super::answers::{by_status, is_outage, label};
use crate::providers::api::{ProviderError, ProviderUser};

/// The longest `response.id` we accept (Naver's are ≤ 64 characters).
const MAX_ID_LEN: usize = 255;

#[derive(Deserialize)]
struct ProfileAnswer {
    /// `errorCode` is the shape of Naver's generic open-API errors.
    #[serde(alias = "errorCode")]
    resultcode: Option<String>,
    response: Option<Profile>,
}

/// The fields we read from `response`. `email` is not among them: Naver
/// shares the user's *contact* address, of any domain, with no verified
/// flag, so it proves nothing about who owns it ([`ProviderUser::email`]
/// holds only verified addresses).
#[derive(Deserialize)]
struct Profile {
    /// A string at Naver; an integer is accepted as the same id.
    id: Option<serde_json::Value>,
    nickname: Option<String>,
    name: Option<String>,
    profile_image: Option<String>,
}

/// The answer of `/v1/nid/me`: the person, or why not. A refused token
/// (`024`, `028`) is `Rejected`; an app without the profile API (`403`)
/// or a wrong URL (`404`) is `Misconfigured`.
pub(crate) fn read_profile(status: StatusCode, body: &[u8]) -> Result<ProviderUser, ProviderError> {
    let answer: Option<ProfileAnswer> = serde_json::from_slice(body).ok();
    let code = answer.as_ref().and_then(|a| a.resultcode.clone());
    let label = label(code.as_deref(), status);
    if is_outage(status) {
        return Err(ProviderError::Unavailable(label));
    }
    if status.is_success()
        && code.as_deref() == Some("00")
        && let Some(profile) = answer.and_then(|a| a.response)
    {
        return user(profile);
    }
    Err(match code.as_deref() {
        Some("00") | None if status.is_success() => {
            ProviderError::Unavailable("unreadable profile".into())
        }
        Some("024" | "028") => ProviderError::Rejected(label),
        Some("403" | "404") => ProviderError::Misconfigured(label),
        Some("500") => ProviderError::Unavailable(label),
        Some(_) => ProviderError::Rejected(label),
        None if status == StatusCode::UNAUTHORIZED => ProviderError::Rejected(label),
        None if status == StatusCode::FORBIDDEN => ProviderError::Misconfigured(label),
        None => by_status(status, label),
    })
}

/// The profile we keep: the id (checked), the nickname or else the name,
/// the image; no thumbnail (Naver has none) and no e-mail (see [`Profile`]).
fn user(profile: Profile) -> Result<ProviderUser, ProviderError> {
    let subject = match profile.id {
        Some(serde_json::Value::String(id)) => id,
        Some(serde_json::Value::Number(id)) if id.is_u64() || id.is_i64() => id.to_string(),
        _ => return Err(ProviderError::Unavailable("unreadable profile".into())),
    };
    if !is_subject(&subject) {
        return Err(ProviderError::Unavailable("unreadable id".into()));
    }
    let present = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    Ok(ProviderUser {
        subject,
        nickname: present(profile.nickname)
            .or(present(profile.name))
            .unwrap_or_default(),
        profile_image_url: present(profile.profile_image),
        thumbnail_image_url: None,
        email: None,
    })
}

/// Naver's ids are digits (apps before 2021-05) or base64-style strings of
/// at most 64 characters; anything outside printable ASCII up to
/// [`MAX_ID_LEN`] is not an id we store.
fn is_subject(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn rejected(label: &str) -> ProviderError {
        ProviderError::Rejected(label.into())
    }

    fn misconfigured(label: &str) -> ProviderError {
        ProviderError::Misconfigured(label.into())
    }

    fn unavailable(label: &str) -> ProviderError {
        ProviderError::Unavailable(label.into())
    }

    #[test]
    fn a_profile_keeps_the_id_nickname_and_image_and_never_the_email() {
        let body = r#"{"resultcode":"00","message":"success","response":{"email":"openapi@naver.com","nickname":"OpenAPI","profile_image":"https://ssl.pstatic.net/static/pwe/address/nodata_33x33.gif","age":"40-49","gender":"F","id":"32742776","name":"오픈 API","birthday":"10-01","birthyear":"1900","mobile":"010-0000-0000","enc_id":"x"}}"#;
        let user = read_profile(status(200), body.as_bytes()).unwrap();
        assert_eq!(
            user,
            ProviderUser {
                subject: "32742776".into(),
                nickname: "OpenAPI".into(),
                profile_image_url: Some(
                    "https://ssl.pstatic.net/static/pwe/address/nodata_33x33.gif".into()
                ),
                thumbnail_image_url: None,
                email: None,
            }
        );
    }

    #[test]
    fn a_profile_without_a_nickname_falls_back_to_the_name_then_to_empty() {
        let read = |response: &str| {
            let body =
                format!(r#"{{"resultcode":"00","message":"success","response":{response}}}"#);
            read_profile(status(200), body.as_bytes()).unwrap()
        };
        let named = read(r#"{"id":"a1","name":"홍길동","nickname":""}"#);
        assert_eq!(named.nickname, "홍길동");
        let bare = read(r#"{"id":"a1"}"#);
        assert_eq!((bare.nickname.as_str(), bare.profile_image_url), ("", None));
        let numeric = read(r#"{"id":32742776}"#);
        assert_eq!(numeric.subject, "32742776");
    }

    #[test]
    fn profile_ids_must_be_printable_and_at_most_255_bytes() {
        let read = |id: &str| {
            let body = serde_json::json!({"resultcode": "00", "response": {"id": id}});
            read_profile(status(200), body.to_string().as_bytes()).map(|u| u.subject)
        };
        let current = "xYz0-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab";
        assert_eq!(read(current).as_deref(), Ok(current));
        assert_eq!(read("32742776").as_deref(), Ok("32742776"));
        assert_eq!(read(&"a".repeat(255)).map(|s| s.len()), Ok(255));
        for bad in [
            String::new(),
            "a".repeat(256),
            "a b".into(),
            "아이디".into(),
            "a\nb".into(),
        ] {
            assert_eq!(read(&bad), Err(unavailable("unreadable id")), "{bad:?}");
        }
    }

    #[test]
    fn profile_refusals_map_by_result_code_then_by_status() {
        let cases = [
            (
                401,
                r#"{"resultcode":"024","message":"Authentication failed (인증 실패하였습니다.)"}"#,
                rejected("024"),
            ),
            (
                401,
                r#"{"resultcode":"028","message":"Authentication header not exists"}"#,
                rejected("028"),
            ),
            (
                200,
                r#"{"resultcode":"024","message":"Authentication failed"}"#,
                rejected("024"),
            ),
            (
                401,
                r#"{"errorMessage":"Authentication failed","errorCode":"024"}"#,
                rejected("024"),
            ),
            (
                403,
                r#"{"resultcode":"403","message":"Forbidden"}"#,
                misconfigured("403"),
            ),
            (
                404,
                r#"{"resultcode":"404","message":"Not Found"}"#,
                misconfigured("404"),
            ),
            (
                500,
                r#"{"resultcode":"500","message":"Internal Server Error"}"#,
                unavailable("500"),
            ),
            (503, "", unavailable("HTTP 503")),
            (429, "", unavailable("HTTP 429")),
            (401, "", rejected("HTTP 401")),
            (403, "", misconfigured("HTTP 403")),
            (200, "<html>oops</html>", unavailable("unreadable profile")),
            (
                200,
                r#"{"resultcode":"00","message":"success"}"#,
                unavailable("unreadable profile"),
            ),
            (
                200,
                r#"{"resultcode":"00","response":{"nickname":"x"}}"#,
                unavailable("unreadable profile"),
            ),
            (
                200,
                r#"{"resultcode":"00","response":{"id":1.5}}"#,
                unavailable("unreadable profile"),
            ),
            (
                400,
                r#"{"resultcode":"00","response":{"id":"a"}}"#,
                rejected("00"),
            ),
        ];
        for (code, body, expected) in cases {
            let got = read_profile(status(code), body.as_bytes()).unwrap_err();
            assert_eq!(got, expected, "{code} {body}");
        }
    }
}
