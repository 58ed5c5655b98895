//! The JSON shapes of a user as the browser sees them: the `/auth/me` body
//! ([`Profile`]) and the identities it lists ([`IdentityView`]), also
//! answered by `POST /auth/identities/{provider}/unlink`.

use auth_proto::v1::{Identity, Provider, User};
use serde::Serialize;

/// The `/auth/me` body: the profile, with the Kakao id as a string (empty
/// when the user has no Kakao identity), empty optional fields as `null`,
/// and the user's identities.
#[derive(Debug, Serialize)]
pub(super) struct Profile {
    id: String,
    kakao_id: String,
    nickname: Option<String>,
    profile_image_url: Option<String>,
    thumbnail_image_url: Option<String>,
    email: Option<String>,
    created_at: i64,
    last_login_at: i64,
    identities: Vec<IdentityView>,
}

/// One identity of a user: the provider's slug, the e-mail it reported as
/// verified (`null` when none), and when it was linked and last used. The
/// provider's own id of the person is not shown.
#[derive(Debug, Serialize)]
pub(super) struct IdentityView {
    provider: &'static str,
    email: Option<String>,
    linked_at: i64,
    last_login_at: i64,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl IdentityView {
    /// The identities the browser is shown: those of a provider this edge
    /// knows (one a newer service adds is left out, not shown as another).
    pub(super) fn list(identities: Vec<Identity>) -> Vec<IdentityView> {
        identities
            .into_iter()
            .filter_map(|identity| {
                let provider = Provider::try_from(identity.provider).ok()?;
                Some(IdentityView {
                    provider: provider.slug(),
                    email: non_empty(identity.email),
                    linked_at: identity.linked_at,
                    last_login_at: identity.last_login_at,
                })
            })
            .collect()
    }
}

impl From<User> for Profile {
    fn from(user: User) -> Self {
        Profile {
            id: user.id,
            kakao_id: user.kakao_id,
            nickname: non_empty(user.nickname),
            profile_image_url: non_empty(user.profile_image_url),
            thumbnail_image_url: non_empty(user.thumbnail_image_url),
            email: non_empty(user.email),
            created_at: user.created_at,
            last_login_at: user.last_login_at,
            identities: IdentityView::list(user.identities),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_profile_fields_become_null() {
        let user = User {
            id: "u1".into(),
            kakao_id: "4000000000".into(),
            nickname: "라이언".into(),
            created_at: 1,
            last_login_at: 2,
            ..Default::default()
        };
        let json = serde_json::to_value(Profile::from(user)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "u1", "kakao_id": "4000000000", "nickname": "라이언",
                "profile_image_url": null, "thumbnail_image_url": null, "email": null,
                "created_at": 1, "last_login_at": 2, "identities": []
            })
        );
    }

    #[test]
    fn identities_are_listed_by_slug_without_their_subject() {
        let identity = |provider: i32, email: &str| Identity {
            provider,
            subject: "secret-subject-1".into(),
            email: email.into(),
            linked_at: 10,
            last_login_at: 20,
        };
        let user = User {
            id: "u1".into(),
            identities: vec![
                identity(Provider::Naver.into(), "a@example.com"),
                identity(Provider::Unspecified.into(), ""),
                identity(Provider::Google.into(), ""),
                identity(99, "new@example.com"),
            ],
            ..Default::default()
        };
        let json = serde_json::to_value(Profile::from(user)).unwrap();
        assert_eq!(json["kakao_id"], "");
        assert_eq!(
            json["identities"],
            serde_json::json!([
                {"provider": "naver", "email": "a@example.com", "linked_at": 10, "last_login_at": 20},
                {"provider": "kakao", "email": null, "linked_at": 10, "last_login_at": 20},
                {"provider": "google", "email": null, "linked_at": 10, "last_login_at": 20},
            ])
        );
        assert!(!json.to_string().contains("secret-subject-1"));
    }
}
