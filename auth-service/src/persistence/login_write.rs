//! The write that completes a login: find or create the user by the
//! provider identity `(provider, subject)`, refresh the user's profile and
//! the identity's e-mail and grant, start a session family and store the
//! hash of its first refresh token, all or nothing, in ONE round trip to
//! the database. A new identity always makes a new user: identities join
//! an existing user only by an explicit link ([`super::identities::link`]).
//!
//! Raw SQL, on purpose, one text per backend: through the ORM this was five
//! round trips (BEGIN, upsert, session, token, COMMIT). On SQLite each one
//! is a hand-off to the connection's worker thread and back (a channel send
//! and a park/unpark), which was most of the service's CPU per login; on
//! PostgreSQL each one is a network round trip. The values are always
//! bound parameters, never spliced into the text.
//!
//! - SQLite runs a string of several statements in one worker command
//!   (positional parameters, see [`SQLITE_STATEMENTS`]), so the batch is
//!   `BEGIN IMMEDIATE; user if new; identity; profile; session; token;
//!   SELECT user; COMMIT`. The one writer serializes logins, so "insert the
//!   user only if the identity is unknown" cannot race.
//! - PostgreSQL runs one statement whose data-modifying CTEs do it all; a
//!   single statement is atomic without BEGIN/COMMIT. Its parameters are
//!   arrays, one element per login, so that the group commit
//!   ([`super::pg_group_commit`]) stores several logins with the same
//!   prepared statement; each login in it is treated as alone. The identity is
//!   upserted first with a fresh user id, and the user row is upserted by
//!   whatever id the identity holds (`ON CONFLICT (id) DO UPDATE`, which
//!   sees a row committed by a concurrent first login of the same person),
//!   so two racing first logins make one user and one identity. The
//!   foreign keys are checked at the end of the statement.

use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, FromQueryResult, QueryResult, RuntimeErr, sqlx,
};
use std::sync::LazyLock;

use super::{
    identities,
    users::{self, UserView},
};
use crate::providers::api::ProviderUser;

/// Everything one login stores.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The provider's path name (`kakao`, `naver`, `google`).
    pub provider: &'static str,
    /// Who signed in, and the profile the provider shared.
    pub profile: ProviderUser,
    /// The provider grant to keep for unlinking (sealed), when one came.
    pub grant_sealed: Option<String>,
    /// The login's time (Unix ms): `created_at` of the new rows.
    pub now: i64,
    /// The new session family's id.
    pub session_id: String,
    /// The family's absolute end.
    pub session_expires_at: i64,
    /// SHA-256 of the family's first refresh token (never the token).
    pub token_hash: String,
    /// When that token stops being usable.
    pub token_expires_at: i64,
}

/// The row ids a login may create: the user's (used only if the identity
/// is new), the identity's, the first refresh token's.
#[derive(Debug, Clone)]
pub(crate) struct LoginIds {
    pub(crate) user: String,
    pub(crate) identity: String,
    pub(crate) token: String,
}

impl LoginIds {
    /// Fresh time-ordered ids.
    pub(crate) fn new() -> Self {
        LoginIds {
            user: crate::domain::new_row_id(),
            identity: crate::domain::new_row_id(),
            token: crate::domain::new_row_id(),
        }
    }
}

/// The columns the closing SELECT returns: the user's, then the identity's
/// id and `created_at`.
const USER_AND_IDENTITY: &str = "u.id, u.nickname, u.profile_image_url, u.thumbnail_image_url, \
u.email, u.created_at, u.last_login_at, u.unlinked_at, i.id AS identity_id, \
i.created_at AS identity_created_at";

/// One login's SQLite statements: the user when the identity is new, the
/// identity (refreshed when known), the profile of a returning user, the
/// session, the token, then the user as stored (a plain SELECT: SQLite
/// gathers `RETURNING` rows in a temporary b-tree opened per statement).
/// The parameters are positional `?`, bound by [`bind_sqlite`] in the
/// order they appear, so that the group commit ([`super::group_commit`])
/// can string several logins together. (Numbered `?N` parameters cannot be
/// used across statements: SQLx binds the slots below a statement's
/// highest number that the statement does not name positionally, from a
/// counter shared by the whole string, and stops binding once that counter
/// passes the last value, leaving later parameters NULL.)
pub(crate) static SQLITE_STATEMENTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "\
INSERT INTO users (id, nickname, profile_image_url, thumbnail_image_url, email, created_at, \
last_login_at, unlinked_at) SELECT ?, ?, ?, ?, ?, ?, ?, NULL \
WHERE NOT EXISTS (SELECT 1 FROM identities WHERE provider = ? AND subject = ?);
INSERT INTO identities (id, user_id, provider, subject, email, grant_sealed, created_at, \
last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, subject) DO UPDATE SET \
email = excluded.email, grant_sealed = COALESCE(excluded.grant_sealed, identities.grant_sealed), \
last_login_at = excluded.last_login_at;
UPDATE users SET nickname = ?, profile_image_url = ?, thumbnail_image_url = ?, \
email = COALESCE(?, email), last_login_at = ?, unlinked_at = NULL \
WHERE id = (SELECT user_id FROM identities WHERE provider = ? AND subject = ?) AND id <> ?;
INSERT INTO sessions (id, user_id, created_at, expires_at) \
SELECT ?, user_id, ?, ? FROM identities WHERE provider = ? AND subject = ?;
INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?);
SELECT {USER_AND_IDENTITY} FROM identities i JOIN users u ON u.id = i.user_id \
WHERE i.provider = ? AND i.subject = ?;
"
    )
});

/// One login's batch: `BEGIN IMMEDIATE; ...; COMMIT` (the same text as the
/// group commit's batch of one, so SQLite prepares it once).
static SQLITE: LazyLock<String> =
    LazyLock::new(|| format!("BEGIN IMMEDIATE;\n{}COMMIT;", SQLITE_STATEMENTS.as_str()));

/// PostgreSQL's one statement (see the module docs), for one login or
/// several: each parameter is an array with one element per login, so the
/// text never changes with the count and is prepared once per connection.
/// `n` (the position in the arrays) orders the rows, the inserts (the
/// order in which rows are locked) and the answer: one row per login.
/// Two logins of one identity in one statement would make its upsert
/// touch a row twice, which PostgreSQL refuses: the group commit
/// ([`super::pg_group_commit`]) never puts them together.
pub(crate) const POSTGRES: &str = "\
WITH l AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
$6::text[], $7::int8[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int8[], \
$13::text[], $14::text[], $15::int8[]) WITH ORDINALITY AS l(identity_id, user_id, provider, \
subject, email, grant_sealed, now, nickname, profile_image_url, thumbnail_image_url, session_id, \
session_expires_at, token_id, token_hash, token_expires_at, n)), \
i AS (\
INSERT INTO identities (id, user_id, provider, subject, email, grant_sealed, created_at, \
last_login_at) SELECT identity_id, user_id, provider, subject, email, grant_sealed, now, now \
FROM l ORDER BY n ON CONFLICT (provider, subject) DO UPDATE \
SET email = EXCLUDED.email, grant_sealed = COALESCE(EXCLUDED.grant_sealed, identities.grant_sealed), \
last_login_at = EXCLUDED.last_login_at RETURNING id, user_id, provider, subject, created_at), \
li AS (SELECT l.*, i.id AS i_id, i.user_id AS i_user_id, i.created_at AS i_created_at \
FROM l JOIN i ON i.provider = l.provider AND i.subject = l.subject), \
u AS (\
INSERT INTO users (id, nickname, profile_image_url, thumbnail_image_url, email, created_at, \
last_login_at, unlinked_at) SELECT i_user_id, nickname, profile_image_url, thumbnail_image_url, \
email, now, now, NULL FROM li ORDER BY n \
ON CONFLICT (id) DO UPDATE SET nickname = EXCLUDED.nickname, \
profile_image_url = EXCLUDED.profile_image_url, thumbnail_image_url = EXCLUDED.thumbnail_image_url, \
email = COALESCE(EXCLUDED.email, users.email), last_login_at = EXCLUDED.last_login_at, \
unlinked_at = NULL \
RETURNING id, nickname, profile_image_url, thumbnail_image_url, email, created_at, \
last_login_at, unlinked_at), \
s AS (INSERT INTO sessions (id, user_id, created_at, expires_at) \
SELECT session_id, i_user_id, now, session_expires_at FROM li ORDER BY n RETURNING id), \
t AS (INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) \
SELECT li.token_id, s.id, li.token_hash, li.now, li.token_expires_at FROM s \
JOIN li ON li.session_id = s.id ORDER BY li.n) \
SELECT u.id, u.nickname, u.profile_image_url, u.thumbnail_image_url, u.email, u.created_at, \
u.last_login_at, u.unlinked_at, li.i_id AS identity_id, li.i_created_at AS identity_created_at \
FROM u JOIN li ON li.i_user_id = u.id ORDER BY li.n";

/// PostgreSQL's parameters for [`POSTGRES`]: one array per column, one
/// element per login.
#[derive(Default)]
pub(crate) struct PgLogins {
    identity_id: Vec<String>,
    user_id: Vec<String>,
    provider: Vec<&'static str>,
    subject: Vec<String>,
    email: Vec<Option<String>>,
    grant_sealed: Vec<Option<String>>,
    now: Vec<i64>,
    nickname: Vec<String>,
    profile_image_url: Vec<Option<String>>,
    thumbnail_image_url: Vec<Option<String>>,
    session_id: Vec<String>,
    session_expires_at: Vec<i64>,
    token_id: Vec<String>,
    token_hash: Vec<String>,
    token_expires_at: Vec<i64>,
}

impl PgLogins {
    /// Adds one login's values.
    pub(crate) fn push(&mut self, login: &LoginRecord, ids: &LoginIds) {
        self.identity_id.push(ids.identity.clone());
        self.user_id.push(ids.user.clone());
        self.provider.push(login.provider);
        self.subject.push(login.profile.subject.clone());
        self.email.push(login.profile.email.clone());
        self.grant_sealed.push(login.grant_sealed.clone());
        self.now.push(login.now);
        self.nickname.push(login.profile.nickname.clone());
        self.profile_image_url
            .push(login.profile.profile_image_url.clone());
        self.thumbnail_image_url
            .push(login.profile.thumbnail_image_url.clone());
        self.session_id.push(login.session_id.clone());
        self.session_expires_at.push(login.session_expires_at);
        self.token_id.push(ids.token.clone());
        self.token_hash.push(login.token_hash.clone());
        self.token_expires_at.push(login.token_expires_at);
    }

    /// [`POSTGRES`] with these values bound.
    pub(crate) fn query(self) -> PgQuery {
        sqlx::query(POSTGRES)
            .bind(self.identity_id)
            .bind(self.user_id)
            .bind(self.provider)
            .bind(self.subject)
            .bind(self.email)
            .bind(self.grant_sealed)
            .bind(self.now)
            .bind(self.nickname)
            .bind(self.profile_image_url)
            .bind(self.thumbnail_image_url)
            .bind(self.session_id)
            .bind(self.session_expires_at)
            .bind(self.token_id)
            .bind(self.token_hash)
            .bind(self.token_expires_at)
    }
}

type PgQuery = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Stores a login (see the module docs). Returns the user as stored, with
/// the identity just used, and whether this login created the user (the
/// id generated here came back, so the insert, not the update, happened).
pub async fn record(
    db: &DatabaseConnection,
    login: LoginRecord,
) -> Result<(UserView, bool), DbErr> {
    let ids = LoginIds::new();
    let row = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool().clone();
            let query = bind_sqlite(sqlx::query(SQLITE.as_str()), login.clone(), &ids);
            // A task of its own, so that a caller going away (a cancelled
            // RPC) cannot stop the batch between its BEGIN and its COMMIT
            // or ROLLBACK and return the writer mid-transaction.
            tokio::spawn(sqlite_batch(pool, query))
                .await
                .map_err(|e| DbErr::Custom(format!("login write task: {e}")))??
        }
        _ => {
            let mut values = PgLogins::default();
            values.push(&login, &ids);
            values
                .query()
                .fetch_optional(db.get_postgres_connection_pool())
                .await
                .map_err(sqlx_err)?
                .map(QueryResult::from)
        }
    };
    stored_user(row, &ids.user, &login)
}

/// The user a login's closing SELECT returned, with the identity just
/// used, and whether this login created the user (the id generated for it
/// came back).
pub(crate) fn stored_user(
    row: Option<QueryResult>,
    new_user_id: &str,
    login: &LoginRecord,
) -> Result<(UserView, bool), DbErr> {
    let row = row.ok_or(DbErr::RecordNotInserted)?;
    let user = users::Model::from_query_result(&row, "")?;
    let identity = identities::Model {
        id: row.try_get("", "identity_id")?,
        user_id: user.id.clone(),
        provider: login.provider.to_owned(),
        subject: login.profile.subject.clone(),
        email: login.profile.email.clone(),
        grant_sealed: None,
        created_at: row.try_get("", "identity_created_at")?,
        last_login_at: login.now,
    };
    let created = user.id == new_user_id;
    Ok((
        UserView {
            user,
            identities: vec![identity],
        },
        created,
    ))
}

/// Binds one login's parameters, in [`SQLITE_STATEMENTS`]' order.
pub(crate) fn bind_sqlite<'q>(
    query: SqliteQuery<'q>,
    login: LoginRecord,
    ids: &LoginIds,
) -> SqliteQuery<'q> {
    let provider = login.provider;
    let subject = login.profile.subject;
    let profile = (
        login.profile.nickname,
        login.profile.profile_image_url,
        login.profile.thumbnail_image_url,
        login.profile.email,
    );
    query
        // the user, when the identity is new
        .bind(ids.user.clone())
        .bind(profile.0.clone())
        .bind(profile.1.clone())
        .bind(profile.2.clone())
        .bind(profile.3.clone())
        .bind(login.now)
        .bind(login.now)
        .bind(provider)
        .bind(subject.clone())
        // the identity
        .bind(ids.identity.clone())
        .bind(ids.user.clone())
        .bind(provider)
        .bind(subject.clone())
        .bind(profile.3.clone())
        .bind(login.grant_sealed)
        .bind(login.now)
        .bind(login.now)
        // a returning user's profile
        .bind(profile.0)
        .bind(profile.1)
        .bind(profile.2)
        .bind(profile.3)
        .bind(login.now)
        .bind(provider)
        .bind(subject.clone())
        .bind(ids.user.clone())
        // the session
        .bind(login.session_id.clone())
        .bind(login.now)
        .bind(login.session_expires_at)
        .bind(provider)
        .bind(subject.clone())
        // its first refresh token
        .bind(ids.token.clone())
        .bind(login.session_id)
        .bind(login.token_hash)
        .bind(login.now)
        .bind(login.token_expires_at)
        // the user as stored
        .bind(provider)
        .bind(subject)
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Runs the SQLite batch on the writer. If any statement fails, the
/// connection may still be inside the batch's transaction: it is rolled
/// back before the error is returned, and a connection whose state is
/// unknown (the ROLLBACK failed too) is closed instead of going back to
/// the pool.
async fn sqlite_batch(
    pool: sqlx::SqlitePool,
    query: SqliteQuery<'static>,
) -> Result<Option<QueryResult>, DbErr> {
    let mut conn = pool.acquire().await.map_err(sqlx_err)?;
    match query.fetch_all(&mut *conn).await {
        // The user is the batch's closing SELECT, its only row.
        Ok(rows) => Ok(rows.into_iter().next().map(QueryResult::from)),
        Err(e) => {
            if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                conn.close_on_drop();
            }
            Err(sqlx_err(e))
        }
    }
}

/// As SeaORM reports it, so [`super::is_unavailable`] sees the cause.
pub(crate) fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}
