//! openapi.naver.com's `/v1/nid/me`: the profile wrapped in
//! `{"resultcode","message","response"}`.

use serde_json::{Map, Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::config::NaverUser;
use crate::control_wire::Endpoint;
use crate::params::bearer_token;
use crate::reply::{self, fault_gate};
use crate::state::Shared;
use crate::store::Refused;

/// `GET|POST /naver/v1/nid/me` with `Authorization: Bearer {access_token}`.
/// No header (or another scheme): 401 `028`; an unknown, expired or revoked
/// token: 401 `024`.
pub(crate) async fn me(shared: &Shared, authorization: Option<&str>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::NaverProfile).await {
        return faulted;
    }
    let Some(token) = bearer_token(authorization) else {
        return refused("028", "Authentication header not exists");
    };
    let session = shared.lock().naver.tokens.access(token).cloned();
    let session = match session {
        Ok(session) => session,
        Err(Refused::Unknown | Refused::Expired) => {
            return refused("024", "Authentication failed (인증 실패하였습니다.)");
        }
    };
    match shared
        .config
        .naver
        .users
        .iter()
        .find(|user| user.key == session.user)
    {
        Some(user) => reply::json(StatusCode::OK, &body(user, &session.client_id)),
        None => refused("024", "Authentication failed (인증 실패하였습니다.)"),
    }
}

fn refused(resultcode: &str, message: &str) -> Response {
    reply::json(
        StatusCode::UNAUTHORIZED,
        &json!({ "resultcode": resultcode, "message": message }),
    )
}

/// The success document: `id` always, every other field only when the
/// account has it (consented), as at Naver.
fn body(user: &NaverUser, client_id: &str) -> Value {
    let mut response = Map::new();
    response.insert("id".into(), user.id_for(client_id).into());
    let optional = [
        ("nickname", &user.nickname),
        ("name", &user.name),
        ("email", &user.email),
        ("profile_image", &user.profile_image),
        ("gender", &user.gender),
        ("age", &user.age),
        ("birthday", &user.birthday),
        ("birthyear", &user.birthyear),
        ("mobile", &user.mobile),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            response.insert(name.into(), value.clone().into());
        }
    }
    json!({ "resultcode": "00", "message": "success", "response": response })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declined_items_are_absent_not_null() {
        let users = NaverUser::defaults();
        let bear = body(&users[1], "app");
        let response = bear["response"].as_object().unwrap();
        for absent in ["email", "mobile", "birthday", "birthyear"] {
            assert!(!response.contains_key(absent), "{absent}");
        }
        assert_eq!(response["nickname"], "🐻 곰돌이 🍯");
        assert_eq!(bear["resultcode"], "00");
        let masked = body(&users[3], "app");
        assert_eq!(masked["response"].as_object().unwrap().len(), 3);
    }
}
