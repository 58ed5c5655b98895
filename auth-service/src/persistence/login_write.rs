//! The write that completes a login: upsert the user by Kakao id, start a
//! session family and store the hash of its first refresh token, all or
//! nothing, in ONE round trip to the database.
//!
//! Raw SQL, on purpose, one text per backend: through the ORM this was five
//! round trips (BEGIN, upsert, session, token, COMMIT). On SQLite each one
//! is a hand-off to the connection's worker thread and back (a channel send
//! and a park/unpark), which was most of the service's CPU per login; on
//! PostgreSQL each one is a network round trip. The values are always
//! bound parameters, never spliced into the text.
//!
//! - SQLite runs a string of several statements in one worker command,
//!   binding numbered parameters (`?N`) across all of them, so the batch is
//!   `BEGIN IMMEDIATE; upsert; session; token; SELECT user; COMMIT`.
//! - PostgreSQL runs one statement whose data-modifying CTEs do the three
//!   inserts; a single statement is atomic without BEGIN/COMMIT.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, QueryResult,
    RuntimeErr, Statement, Value, sqlx,
};
use std::sync::LazyLock;

use super::users::{self, ProfileUpdate};

/// Everything one login stores.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The Kakao profile, as just fetched.
    pub profile: ProfileUpdate,
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

/// One login's SQLite statements: the upsert, the session, the token, then
/// the user as stored (a plain SELECT: SQLite gathers `RETURNING` rows in a
/// temporary b-tree opened per statement). The parameters are positional
/// `?`, bound by [`bind_sqlite`] in the order they appear, so that the
/// group commit ([`super::group_commit`]) can string several logins
/// together. (Numbered `?N` parameters cannot be used across statements:
/// SQLx binds the slots below a statement's highest number that the
/// statement does not name positionally, from a counter shared by the
/// whole string, and stops binding once that counter passes the last
/// value, leaving later parameters NULL.)
pub(crate) const SQLITE_STATEMENTS: &str = "\
INSERT INTO users (id, kakao_id, nickname, profile_image_url, thumbnail_image_url, email, \
created_at, last_login_at, unlinked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) \
ON CONFLICT (kakao_id) DO UPDATE SET nickname = excluded.nickname, \
profile_image_url = excluded.profile_image_url, thumbnail_image_url = excluded.thumbnail_image_url, \
email = excluded.email, last_login_at = excluded.last_login_at, unlinked_at = NULL;
INSERT INTO sessions (id, user_id, created_at, expires_at) SELECT ?, id, ?, ? FROM users WHERE kakao_id = ?;
INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?);
SELECT id, kakao_id, nickname, profile_image_url, thumbnail_image_url, email, created_at, \
last_login_at, unlinked_at FROM users WHERE kakao_id = ?;
";

/// One login's batch: `BEGIN IMMEDIATE; upsert; session; token; SELECT
/// user; COMMIT` (the same text as the group commit's batch of one, so
/// SQLite prepares it once).
static SQLITE: LazyLock<String> =
    LazyLock::new(|| format!("BEGIN IMMEDIATE;\n{SQLITE_STATEMENTS}COMMIT;"));

/// The same parameters as [`sqlite_statements`], numbered `$1`..`$12`.
const POSTGRES: &str = "\
WITH u AS (\
INSERT INTO users (id, kakao_id, nickname, profile_image_url, thumbnail_image_url, email, \
created_at, last_login_at, unlinked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, NULL) \
ON CONFLICT (kakao_id) DO UPDATE SET nickname = EXCLUDED.nickname, \
profile_image_url = EXCLUDED.profile_image_url, thumbnail_image_url = EXCLUDED.thumbnail_image_url, \
email = EXCLUDED.email, last_login_at = EXCLUDED.last_login_at, unlinked_at = NULL \
RETURNING id, kakao_id, nickname, profile_image_url, thumbnail_image_url, email, created_at, \
last_login_at, unlinked_at), \
s AS (INSERT INTO sessions (id, user_id, created_at, expires_at) SELECT $8, u.id, $7, $9 FROM u RETURNING id), \
t AS (INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) \
SELECT $10, s.id, $11, $7, $12 FROM s) \
SELECT id, kakao_id, nickname, profile_image_url, thumbnail_image_url, email, created_at, \
last_login_at, unlinked_at FROM u";

/// Stores a login (see the module docs). Returns the user as stored and
/// whether this login created it (the id generated here came back, so the
/// insert, not the update, happened): two simultaneous first logins of one
/// Kakao user still make one row.
pub async fn record(
    db: &DatabaseConnection,
    login: LoginRecord,
) -> Result<(users::Model, bool), DbErr> {
    let new_id = crate::domain::new_row_id();
    let token_row_id = crate::domain::new_row_id();
    let row = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool().clone();
            let query = bind_sqlite(sqlx::query(SQLITE.as_str()), login, &new_id, &token_row_id);
            // A task of its own, so that a caller going away (a cancelled
            // RPC) cannot stop the batch between its BEGIN and its COMMIT
            // or ROLLBACK and return the writer mid-transaction.
            tokio::spawn(sqlite_batch(pool, query))
                .await
                .map_err(|e| DbErr::Custom(format!("login write task: {e}")))??
        }
        backend => {
            let values: Vec<Value> = vec![
                new_id.clone().into(),
                login.profile.kakao_id.into(),
                login.profile.nickname.into(),
                login.profile.profile_image_url.into(),
                login.profile.thumbnail_image_url.into(),
                login.profile.email.into(),
                login.now.into(),
                login.session_id.into(),
                login.session_expires_at.into(),
                token_row_id.into(),
                login.token_hash.into(),
                login.token_expires_at.into(),
            ];
            db.query_all_raw(Statement::from_sql_and_values(backend, POSTGRES, values))
                .await?
                .into_iter()
                .next()
        }
    };
    stored_user(row, &new_id)
}

/// The user a login's upsert returned, and whether this login created it
/// (the id generated for it came back).
pub(crate) fn stored_user(
    row: Option<QueryResult>,
    new_id: &str,
) -> Result<(users::Model, bool), DbErr> {
    let row = row.ok_or(DbErr::RecordNotInserted)?;
    let user = users::Model::from_query_result(&row, "")?;
    let created = user.id == new_id;
    Ok((user, created))
}

/// Binds one login's parameters, in [`SQLITE_STATEMENTS`]' order.
pub(crate) fn bind_sqlite<'q>(
    query: SqliteQuery<'q>,
    login: LoginRecord,
    new_id: &str,
    token_row_id: &str,
) -> SqliteQuery<'q> {
    let kakao_id = login.profile.kakao_id;
    query
        // the upsert
        .bind(new_id.to_owned())
        .bind(kakao_id)
        .bind(login.profile.nickname)
        .bind(login.profile.profile_image_url)
        .bind(login.profile.thumbnail_image_url)
        .bind(login.profile.email)
        .bind(login.now)
        .bind(login.now)
        // the session
        .bind(login.session_id.clone())
        .bind(login.now)
        .bind(login.session_expires_at)
        .bind(kakao_id)
        // its first refresh token
        .bind(token_row_id.to_owned())
        .bind(login.session_id)
        .bind(login.token_hash)
        .bind(login.now)
        .bind(login.token_expires_at)
        // the user as stored
        .bind(kakao_id)
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
