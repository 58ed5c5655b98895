//! Keys at rest: with `KEY_ENCRYPTION_KEY` no private or sealing key is in
//! the database in the clear; a missing or wrong key stops the start with
//! one line and changes nothing; `auth-service keys rewrap` (the real
//! binary) encrypts plain keys and moves them to a new key-encryption key.

use std::{
    path::PathBuf,
    process::{Command, Output, Stdio},
    time::Duration,
};

use auth_service::{
    Application,
    configuration::ConfigError,
    domain::{
        KeyEncryption, KeyEncryptionKey, is_encrypted, provider_grant_row, signing_key_row,
        state_sealing_key_row,
    },
    persistence::{self, identities, signing_keys, state_sealing_keys},
    providers::Provider,
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use secrecy::SecretString;
use test_support::{
    AuthHandle, TempDir, TestDb, login_on, login_with, poll, settings, start_emulator, users,
};

const KEK_1: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
const KEK_2: &str = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";

fn encryption(kek: &str) -> KeyEncryption {
    KeyEncryption::new(Some(KeyEncryptionKey::parse(kek).unwrap()))
}

/// The key rows, as stored.
async fn key_rows(url: &str) -> (Vec<signing_keys::Model>, Vec<state_sealing_keys::Model>) {
    let db = persistence::connect_and_migrate(&SecretString::from(url.to_owned()))
        .await
        .unwrap();
    let rows = (
        signing_keys::all(&db.read).await.unwrap(),
        state_sealing_keys::all(&db.read).await.unwrap(),
    );
    db.close().await.unwrap();
    rows
}

/// The stored grant of the one Naver identity, and its row's name.
async fn naver_grant(url: &str) -> (String, String) {
    let db = persistence::connect_and_migrate(&SecretString::from(url.to_owned()))
        .await
        .unwrap();
    let identity = identities::with_grants(&db.read)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.provider == "naver")
        .expect("the Naver identity keeps a grant");
    db.close().await.unwrap();
    (
        provider_grant_row("naver", &identity.subject),
        identity.grant_sealed.unwrap_or_default(),
    )
}

/// A working directory with no `.env`.
fn workdir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("keys-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_auth-service"))
}

fn command(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .current_dir(&dir.0)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `auth-service keys ...` to its end.
fn keys(dir: &TempDir, db_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    command(dir, &all, env)
        .env("DATABASE_URL", db_url)
        .output()
        .expect("run auth-service keys")
}

/// Starts `auth-service` (serve) and waits for it to exit; panics if it is
/// still serving after a while.
async fn serve_until_exit(dir: &TempDir, db_url: &str, env: &[(&str, &str)]) -> Output {
    let mut child = command(dir, &[], env)
        .env("DATABASE_URL", db_url)
        .env("KAKAO_CLIENT_ID", "abc")
        .env("AUTH_GRPC_ADDR", "127.0.0.1:0")
        .env("METRICS_ADDR", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start auth-service");
    let exited = poll(Duration::from_secs(20), || {
        let status = child.try_wait().expect("try_wait");
        async move { status.ok_or(()) }
    })
    .await;
    if exited.is_err() {
        let _ = child.kill();
        panic!("auth-service kept running");
    }
    child.wait_with_output().unwrap()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The refusal: exit 2 and exactly one line on stderr, naming `variable`,
/// holding no key.
fn assert_refused(out: &Output, variable: &str) {
    let lines = stderr_lines(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {lines:?}");
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(lines[0].contains(variable), "{lines:?}");
    assert!(!lines[0].contains(KEK_1) && !lines[0].contains(KEK_2));
}

/// Every way a secret's bytes could be written down.
fn spellings(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    vec![STANDARD.encode(secret), URL_SAFE_NO_PAD.encode(secret), hex]
}

/// The Ed25519 seed inside a PKCS#8 document (`04 20 <32 bytes>`).
fn seed_of(pkcs8: &[u8]) -> Vec<u8> {
    let at = pkcs8
        .windows(2)
        .position(|w| w == [0x04, 0x20])
        .expect("an Ed25519 PKCS#8 document");
    pkcs8[at + 2..at + 34].to_vec()
}

#[tokio::test]
async fn with_a_key_encryption_key_no_private_key_is_stored_in_the_clear() {
    let kakao = start_emulator(Default::default()).await;
    let testdb = TestDb::new().await;
    let auth = AuthHandle::start(settings(
        &testdb.url,
        &kakao.base_url(),
        &[("KEY_ENCRYPTION_KEY", KEK_1)],
    ))
    .await;
    let token = login_on(&auth, users::HONG).await.tokens.unwrap();
    let dir = workdir();
    let rotate = keys(
        &dir,
        &testdb.url,
        &["rotate"],
        &[
            ("KEY_ENCRYPTION_KEY", KEK_1),
            ("KEY_ACTIVATION_DELAY", "0s"),
        ],
    );
    assert!(rotate.status.success(), "{:?}", stderr_lines(&rotate));
    auth.stop().await;

    let (signing, sealing) = key_rows(&testdb.url).await;
    assert_eq!(signing.len(), 2, "the first key and the rotated one");
    let mut secrets = Vec::new();
    let mut stored_text = String::new();
    for k in &signing {
        assert!(is_encrypted(&k.private_key), "{k:?}");
        let der = encryption(KEK_1)
            .open(&signing_key_row(&k.kid), &k.private_key)
            .unwrap();
        secrets.push(seed_of(&der));
        secrets.push(der);
        stored_text.push_str(&format!("{} {} {} ", k.kid, k.private_key, k.public_key));
    }
    for k in &sealing {
        assert!(is_encrypted(&k.secret));
        secrets.push(
            encryption(KEK_1)
                .open(&state_sealing_key_row(k.id), &k.secret)
                .unwrap(),
        );
        stored_text.push_str(&format!("{} {} ", k.id, k.secret));
    }
    // The database file itself, when it is one (SQLite): no raw bytes.
    let file_bytes = testdb
        .url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        .map(|path| {
            let mut bytes = std::fs::read(path).unwrap_or_default();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        })
        .unwrap_or_default();
    for secret in &secrets {
        for spelled in spellings(secret) {
            assert!(!stored_text.contains(&spelled), "a key in the clear");
            assert!(
                !file_bytes
                    .windows(spelled.len())
                    .any(|w| w == spelled.as_bytes()),
                "a key in the clear in the database file"
            );
        }
        assert!(
            !file_bytes.windows(secret.len()).any(|w| w == &secret[..]),
            "raw key bytes in the database file"
        );
    }

    // The encrypted keys are the ones in use: the service starts again with
    // the key-encryption key, and the earlier token still verifies.
    let auth = AuthHandle::start(settings(
        &testdb.url,
        &kakao.base_url(),
        &[("KEY_ENCRYPTION_KEY", KEK_1)],
    ))
    .await;
    assert!(verify_on(&auth, &token.access_token).await);
    auth.stop().await;
}

#[tokio::test]
async fn a_wrong_or_missing_key_encryption_key_refuses_the_start_and_changes_nothing() {
    let kakao = start_emulator(Default::default()).await;
    let testdb = TestDb::new().await;
    let auth = AuthHandle::start(settings(
        &testdb.url,
        &kakao.base_url(),
        &[("KEY_ENCRYPTION_KEY", KEK_1)],
    ))
    .await;
    auth.stop().await;
    let before = key_rows(&testdb.url).await;

    // In process: a configuration error naming the variable.
    for extra in [&[("KEY_ENCRYPTION_KEY", KEK_2)][..], &[]] {
        let err = Application::build(settings(&testdb.url, &kakao.base_url(), extra))
            .await
            .err()
            .expect("refused");
        let config = err.downcast_ref::<ConfigError>().expect("a ConfigError");
        assert_eq!(config.variable, "KEY_ENCRYPTION_KEY", "{err:#}");
    }
    // The real binary: exit 2, one line.
    let dir = workdir();
    let wrong = serve_until_exit(&dir, &testdb.url, &[("KEY_ENCRYPTION_KEY", KEK_2)]).await;
    assert_refused(&wrong, "KEY_ENCRYPTION_KEY");
    let missing = serve_until_exit(&dir, &testdb.url, &[]).await;
    assert_refused(&missing, "KEY_ENCRYPTION_KEY");
    // `keys rotate` refuses too: it would add a key under another one.
    let rotate = keys(
        &dir,
        &testdb.url,
        &["rotate"],
        &[("KEY_ENCRYPTION_KEY", KEK_2)],
    );
    assert_refused(&rotate, "KEY_ENCRYPTION_KEY");

    assert!(
        before == key_rows(&testdb.url).await,
        "the key rows are unchanged"
    );
}

#[tokio::test]
async fn keys_rewrap_encrypts_plain_keys_then_moves_them_to_a_new_key() {
    let kakao = start_emulator(Default::default()).await;
    let testdb = TestDb::new().await;
    let start = |kek: Option<&'static str>| {
        let extra: Vec<(&str, &str)> = kek.map(|k| ("KEY_ENCRYPTION_KEY", k)).into_iter().collect();
        AuthHandle::start(settings(&testdb.url, &kakao.base_url(), &extra))
    };
    // The development default: keys in the clear.
    let auth = start(None).await;
    let token = login_on(&auth, users::HONG)
        .await
        .tokens
        .unwrap()
        .access_token;
    // A Naver login keeps Naver's refresh token on the identity.
    login_with(&auth, Provider::Naver, users::NAVER_GILDONG).await;
    auth.stop().await;
    let (signing, sealing) = key_rows(&testdb.url).await;
    assert!(!is_encrypted(&signing[0].private_key) && !is_encrypted(&sealing[0].secret));
    let (grant_row, plain_grant) = naver_grant(&testdb.url).await;
    assert!(!is_encrypted(&plain_grant));

    let dir = workdir();
    let without = keys(&dir, &testdb.url, &["rewrap"], &[]);
    assert_refused(&without, "KEY_ENCRYPTION_KEY");
    let first = keys(
        &dir,
        &testdb.url,
        &["rewrap"],
        &[("KEY_ENCRYPTION_KEY", KEK_1)],
    );
    assert!(first.status.success(), "{:?}", stderr_lines(&first));
    let under_1 = key_rows(&testdb.url).await;
    assert!(is_encrypted(&under_1.0[0].private_key) && is_encrypted(&under_1.1[0].secret));
    let (_, grant_1) = naver_grant(&testdb.url).await;
    assert!(is_encrypted(&grant_1), "the grant is rewrapped too");
    let opened = encryption(KEK_1).open(&grant_row, &grant_1).unwrap();
    assert_eq!(
        opened,
        KeyEncryption::default()
            .open(&grant_row, &plain_grant)
            .unwrap()
    );

    // Under KEK_1 now: it starts with it, and the old token still verifies.
    let auth = start(Some(KEK_1)).await;
    assert!(verify_on(&auth, &token).await);
    auth.stop().await;

    // Moving to KEK_2 needs the old key.
    let no_old = keys(
        &dir,
        &testdb.url,
        &["rewrap"],
        &[("KEY_ENCRYPTION_KEY", KEK_2)],
    );
    assert_refused(&no_old, "KEY_ENCRYPTION_KEY");
    assert!(under_1 == key_rows(&testdb.url).await, "nothing changed");
    let moved = keys(
        &dir,
        &testdb.url,
        &["rewrap"],
        &[
            ("KEY_ENCRYPTION_KEY", KEK_2),
            ("OLD_KEY_ENCRYPTION_KEY", KEK_1),
        ],
    );
    assert!(moved.status.success(), "{:?}", stderr_lines(&moved));
    let again = keys(
        &dir,
        &testdb.url,
        &["rewrap"],
        &[("KEY_ENCRYPTION_KEY", KEK_2)],
    );
    assert!(again.status.success(), "nothing left to move");
    let (_, grant_2) = naver_grant(&testdb.url).await;
    assert_eq!(
        encryption(KEK_2).open(&grant_row, &grant_2).unwrap(),
        opened
    );

    let old = serve_until_exit(&dir, &testdb.url, &[("KEY_ENCRYPTION_KEY", KEK_1)]).await;
    assert_refused(&old, "KEY_ENCRYPTION_KEY");
    let auth = start(Some(KEK_2)).await;
    assert!(
        verify_on(&auth, &token).await,
        "same signing key, new wrapping"
    );
    assert!(login_on(&auth, users::KIM).await.tokens.is_some());
    auth.stop().await;
}

async fn verify_on(auth: &AuthHandle, token: &str) -> bool {
    auth.client()
        .await
        .verify_access_token(auth_proto::v1::VerifyAccessTokenRequest {
            access_token: token.into(),
        })
        .await
        .is_ok()
}

/// Runs on the current-thread runtime: the start logs through this
/// thread's subscriber.
#[tokio::test]
async fn without_a_key_encryption_key_the_start_warns_that_keys_are_in_the_clear() {
    let starts = |kek: Option<&'static str>| async move {
        let captured = test_support::LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(captured.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let kakao = start_emulator(Default::default()).await;
        let testdb = TestDb::new().await;
        let extra: Vec<(&str, &str)> = kek.map(|k| ("KEY_ENCRYPTION_KEY", k)).into_iter().collect();
        let auth = AuthHandle::start(settings(&testdb.url, &kakao.base_url(), &extra)).await;
        auth.stop().await;
        captured.text()
    };
    let plain = starts(None).await;
    assert!(
        plain.contains("WARN") && plain.contains("stored in the clear"),
        "{plain}"
    );
    let encrypted = starts(Some(KEK_1)).await;
    assert!(!encrypted.contains("in the clear"), "{encrypted}");
}
