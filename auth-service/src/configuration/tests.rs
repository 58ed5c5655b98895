//! Unit tests of the service's settings.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn only_the_client_id_is_required_and_defaults_follow_the_spec() {
    let s = Settings::from_vars(&vars(&[("KAKAO_CLIENT_ID", "abc")])).unwrap();
    assert_eq!(
        s.kakao.as_ref().unwrap().redirect_uri.as_str(),
        defaults::REDIRECT_URI
    );
    assert_eq!(
        s.kakao.as_ref().unwrap().auth_base_url.as_str(),
        "https://kauth.kakao.com/"
    );
    assert_eq!(s.grpc_addr.to_string(), "127.0.0.1:50051");
    assert_eq!(s.access_token_ttl, Duration::from_secs(15 * 60));
    assert_eq!(s.refresh_token_ttl, Duration::from_secs(14 * 86400));
    assert_eq!(s.login_attempt_ttl, Duration::from_secs(600));
    assert_eq!(s.metrics_addr, Some("127.0.0.1:9090".parse().unwrap()));
    assert_eq!(s.grpc_max_concurrent, 512);
    assert_eq!(s.db_ping_interval, Duration::from_secs(5));
    assert_eq!(
        s.kakao.as_ref().unwrap().circuit_open,
        Duration::from_secs(15)
    );
    assert_eq!(s.refresh_reuse_grace, Duration::from_secs(10));
    assert_eq!(s.sweep_interval, Duration::from_secs(60));
    assert!(s.grpc_reflection && s.grpc_tls.is_none());
    assert!(
        s.allowed_origins
            .contains(&Url::parse("http://localhost:8080/x").unwrap())
    );
}

#[test]
fn each_bad_value_names_its_variable() {
    let cases = [
        ("KAKAO_CLIENT_ID", ""),
        ("FRONTEND_URL", "not a url"),
        ("KAKAO_REDIRECT_URI", "ftp://x/"),
        ("AUTH_GRPC_ADDR", "localhost"),
        ("ACCESS_TOKEN_TTL", "soon"),
        ("REFRESH_TOKEN_TTL", "1m"),
        ("ALLOWED_ORIGINS", "https://a.example/path"),
        ("KAKAO_TIMEOUT", "0s"),
        ("METRICS_ADDR", "9090"),
        ("METRICS_ADDR", "no"),
        ("GRPC_MAX_CONCURRENT", "0"),
        ("GRPC_MAX_CONCURRENT", "many"),
        ("DB_PING_INTERVAL", "often"),
        ("KEY_ENCRYPTION_KEY", "c2hvcnQ="),
        ("KEY_ENCRYPTION_KEY", "not base64 at all"),
        ("KAKAO_CIRCUIT_OPEN", "0s"),
        ("REFRESH_REUSE_GRACE", "61s"),
        ("REFRESH_REUSE_GRACE", "1h"),
        ("SWEEP_INTERVAL", "0s"),
        ("GRPC_REFLECTION", "maybe"),
        ("AUTH_GRPC_CLIENT_CA", "/nonexistent/ca.pem"),
        ("AUTH_GRPC_ADMIN_CLIENTS", "reports"),
    ];
    for (name, value) in cases {
        let mut v = vars(&[("KAKAO_CLIENT_ID", "abc")]);
        v.insert(name.to_string(), value.to_string());
        let e = Settings::from_vars(&v).unwrap_err();
        assert_eq!(e.variable, name, "{name}={value}");
        assert!(e.to_string().starts_with(name) && !e.to_string().contains('\n'));
    }
}

#[test]
fn a_key_encryption_key_is_optional_and_never_in_debug_output() {
    let s = Settings::from_vars(&vars(&[("KAKAO_CLIENT_ID", "abc")])).unwrap();
    assert!(!s.key_encryption.is_on());
    let kek = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=";
    let s = Settings::from_vars(&vars(&[
        ("KAKAO_CLIENT_ID", "abc"),
        ("KEY_ENCRYPTION_KEY", kek),
    ]))
    .unwrap();
    assert!(s.key_encryption.is_on());
    assert!(!format!("{s:?}").contains(kek));
    let e = key_activation_delay(&vars(&[("KEY_ACTIVATION_DELAY", "soon")])).unwrap_err();
    assert_eq!(e.variable, "KEY_ACTIVATION_DELAY");
    assert_eq!(
        key_activation_delay(&vars(&[])).unwrap(),
        Duration::from_secs(180)
    );
    assert_eq!(
        key_activation_delay(&vars(&[("KEY_ACTIVATION_DELAY", "0s")])).unwrap(),
        Duration::ZERO
    );
}

#[test]
fn the_refresh_reuse_grace_is_at_most_a_minute() {
    let grace = |value: &str| {
        Settings::from_vars(&vars(&[
            ("KAKAO_CLIENT_ID", "abc"),
            ("REFRESH_REUSE_GRACE", value),
        ]))
        .map(|s| s.refresh_reuse_grace)
    };
    assert_eq!(grace("60s"), Ok(MAX_REFRESH_REUSE_GRACE));
    assert_eq!(grace("200ms"), Ok(Duration::from_millis(200)));
    assert_eq!(
        grace("2m").unwrap_err().to_string(),
        "REFRESH_REUSE_GRACE: must be at most 60s"
    );
}

#[test]
fn kakao_base_urls_must_be_https_except_to_loopback_or_allowed_hosts() {
    for name in [
        "KAKAO_AUTH_BASE_URL",
        "KAKAO_API_BASE_URL",
        "KAKAO_BROWSER_AUTH_BASE_URL",
    ] {
        for value in [
            "http://kauth.kakao.com",
            "http://10.0.0.5:8081",
            "http://kakao-emulator:8081",
        ] {
            let e = Settings::from_vars(&vars(&[("KAKAO_CLIENT_ID", "abc"), (name, value)]))
                .unwrap_err();
            assert_eq!(e.variable, name, "{name}={value}");
            assert!(!e.to_string().contains('\n'));
        }
        for value in [
            "https://kauth.example.com",
            "http://127.0.0.1:8081",
            "http://127.3.4.5:8081",
            "http://localhost:8081",
            "http://[::1]:8081",
        ] {
            Settings::from_vars(&vars(&[("KAKAO_CLIENT_ID", "abc"), (name, value)]))
                .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        }
        let allowed = Settings::from_vars(&vars(&[
            ("KAKAO_CLIENT_ID", "abc"),
            ("KAKAO_ALLOW_HTTP_HOSTS", "kakao-emulator, other"),
            (name, "http://kakao-emulator:8081"),
        ]));
        assert!(allowed.is_ok(), "{name}: an allowed host");
    }
}

#[test]
fn openid_is_requested_only_when_the_scope_names_it() {
    for (scope, expected) in [
        (None, false),
        (Some("openid"), true),
        (Some("profile_nickname,openid"), true),
        (Some("account_email openid"), true),
        (Some("openid_connect"), false),
    ] {
        let mut v = vars(&[("KAKAO_CLIENT_ID", "abc")]);
        if let Some(scope) = scope {
            v.insert("KAKAO_SCOPE".into(), scope.into());
        }
        let s = Settings::from_vars(&v).unwrap();
        assert_eq!(
            s.kakao.as_ref().unwrap().requests_openid(),
            expected,
            "{scope:?}"
        );
    }
}

#[test]
fn the_metrics_port_can_be_turned_off() {
    let s = Settings::from_vars(&vars(&[
        ("KAKAO_CLIENT_ID", "abc"),
        ("METRICS_ADDR", "off"),
    ]))
    .unwrap();
    assert_eq!(s.metrics_addr, None);
}

#[test]
fn a_client_secret_never_appears_in_debug_output() {
    let s = Settings::from_vars(&vars(&[
        ("KAKAO_CLIENT_ID", "abc"),
        ("KAKAO_CLIENT_SECRET", "top-secret-value"),
    ]))
    .unwrap();
    assert!(!format!("{s:?}").contains("top-secret-value"));
}

#[test]
fn any_one_provider_is_enough_and_each_is_on_when_its_client_id_is_set() {
    let naver_only = Settings::from_vars(&vars(&[
        ("NAVER_CLIENT_ID", "n"),
        ("NAVER_CLIENT_SECRET", "ns"),
    ]))
    .unwrap();
    assert!(naver_only.kakao.is_none() && naver_only.google.is_none());
    let naver = naver_only.naver.unwrap();
    assert_eq!(naver.auth_base_url.as_str(), "https://nid.naver.com/");
    assert_eq!(naver.api_base_url.as_str(), "https://openapi.naver.com/");
    assert_eq!(
        naver.redirect_uri.as_str(),
        "http://localhost:8080/auth/naver/callback"
    );

    let google_only = Settings::from_vars(&vars(&[
        ("GOOGLE_CLIENT_ID", "g"),
        ("GOOGLE_CLIENT_SECRET", "gs"),
    ]))
    .unwrap();
    let google = google_only.google.unwrap();
    assert_eq!(google.issuer.as_str(), "https://accounts.google.com/");
    assert!(google_only.kakao.is_none() && google_only.naver.is_none());

    let none = Settings::from_vars(&vars(&[])).unwrap_err();
    assert_eq!(none.variable, "KAKAO_CLIENT_ID");
    assert!(none.to_string().contains("NAVER_CLIENT_ID"));
}

#[test]
fn each_bad_provider_value_names_its_variable() {
    let cases = [
        (
            ("NAVER_CLIENT_ID", "n"),
            ("NAVER_CLIENT_SECRET", ""),
            "NAVER_CLIENT_SECRET",
        ),
        (
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", ""),
            "GOOGLE_CLIENT_SECRET",
        ),
        (
            ("NAVER_CLIENT_ID", "n"),
            ("NAVER_AUTH_BASE_URL", "http://nid.example"),
            "NAVER_AUTH_BASE_URL",
        ),
        (
            ("NAVER_CLIENT_ID", "n"),
            ("NAVER_API_BASE_URL", "not a url"),
            "NAVER_API_BASE_URL",
        ),
        (
            ("NAVER_CLIENT_ID", "n"),
            ("NAVER_REDIRECT_URI", "ftp://x/"),
            "NAVER_REDIRECT_URI",
        ),
        (
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_ISSUER", "http://accounts.example"),
            "GOOGLE_ISSUER",
        ),
        (
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_REDIRECT_URI", "nope"),
            "GOOGLE_REDIRECT_URI",
        ),
    ];
    for ((id, id_value), (name, value), expected) in cases {
        let mut v = vars(&[
            (id, id_value),
            ("NAVER_CLIENT_SECRET", "ns"),
            ("GOOGLE_CLIENT_SECRET", "gs"),
        ]);
        v.insert(name.to_string(), value.to_string());
        let e = Settings::from_vars(&v).unwrap_err();
        assert_eq!(e.variable, expected, "{name}={value}");
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn provider_secrets_never_appear_in_debug_output() {
    let s = Settings::from_vars(&vars(&[
        ("NAVER_CLIENT_ID", "n"),
        ("NAVER_CLIENT_SECRET", "naver-secret-value"),
        ("GOOGLE_CLIENT_ID", "g"),
        ("GOOGLE_CLIENT_SECRET", "google-secret-value"),
    ]))
    .unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains("naver-secret-value") && !shown.contains("google-secret-value"));
}
