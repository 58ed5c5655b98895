//! Users get identities: a user has one or more `(provider, subject)`
//! pairs, unique together, and at most one per provider. Every existing
//! user becomes a user with one Kakao identity (subject = the Kakao id in
//! decimal), keeping their user id, their sessions and their refresh
//! tokens; `users.kakao_id` goes away (the Kakao id is the Kakao
//! identity's subject).
//!
//! PostgreSQL drops the column in place (the migrator's transaction makes
//! it all or nothing). SQLite cannot drop a UNIQUE column, so the users
//! table is rebuilt the way SQLite documents (foreign keys off, copy,
//! drop, rename, `foreign_key_check`, foreign keys on), in one
//! transaction: with foreign keys on, dropping `users` would cascade to
//! every session.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261230_000005_identities"
    }
}

#[derive(DeriveIden)]
enum Identities {
    Table,
    Id,
    UserId,
    Provider,
    Subject,
    Email,
    GrantSealed,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// Every existing user's Kakao identity.
const COPY_KAKAO_IDENTITIES: &str = "\
INSERT INTO identities (id, user_id, provider, subject, email, grant_sealed, created_at, last_login_at) \
SELECT id, id, 'kakao', CAST(kakao_id AS TEXT), email, NULL, created_at, last_login_at FROM users";

/// The users table without `kakao_id`, as SQLite rebuilds it.
const SQLITE_REBUILD: [&str; 4] = [
    "CREATE TABLE users_new (id varchar(36) NOT NULL PRIMARY KEY, nickname varchar NOT NULL, \
     profile_image_url text NULL, thumbnail_image_url text NULL, email varchar NULL, \
     created_at bigint NOT NULL, last_login_at bigint NOT NULL, unlinked_at bigint NULL)",
    "INSERT INTO users_new (id, nickname, profile_image_url, thumbnail_image_url, email, \
     created_at, last_login_at, unlinked_at) SELECT id, nickname, profile_image_url, \
     thumbnail_image_url, email, created_at, last_login_at, unlinked_at FROM users",
    "DROP TABLE users",
    "ALTER TABLE users_new RENAME TO users",
];

fn identities_table() -> TableCreateStatement {
    Table::create()
        .table(Identities::Table)
        .if_not_exists()
        .col(string_len(Identities::Id, 36).primary_key())
        .col(string_len(Identities::UserId, 36))
        .col(string_len(Identities::Provider, 16))
        .col(string_len(Identities::Subject, 255))
        .col(string_null(Identities::Email))
        .col(text_null(Identities::GrantSealed))
        .col(big_integer(Identities::CreatedAt))
        .col(big_integer(Identities::LastLoginAt))
        .foreign_key(
            ForeignKey::create()
                .name("fk_identities_user")
                .from(Identities::Table, Identities::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn unique(name: &str, cols: [Identities; 2]) -> IndexCreateStatement {
    let [a, b] = cols;
    Index::create()
        .if_not_exists()
        .unique()
        .name(name)
        .table(Identities::Table)
        .col(a)
        .col(b)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        if sqlite {
            // Outside any transaction (the pragma is a no-op inside one);
            // the writer pool has one connection, so it holds for the rest.
            db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
            db.execute_unprepared("BEGIN IMMEDIATE").await?;
        }
        let result = async {
            m.create_table(identities_table()).await?;
            m.create_index(unique(
                "idx_identities_provider_subject",
                [Identities::Provider, Identities::Subject],
            ))
            .await?;
            m.create_index(unique(
                "idx_identities_user_provider",
                [Identities::UserId, Identities::Provider],
            ))
            .await?;
            db.execute_unprepared(COPY_KAKAO_IDENTITIES).await?;
            if sqlite {
                for statement in SQLITE_REBUILD {
                    db.execute_unprepared(statement).await?;
                }
                let broken = db
                    .query_all_raw(sea_orm::Statement::from_string(
                        DbBackend::Sqlite,
                        "PRAGMA foreign_key_check",
                    ))
                    .await?;
                if !broken.is_empty() {
                    return Err(DbErr::Migration(format!(
                        "{} rows would lose their user",
                        broken.len()
                    )));
                }
            } else {
                db.execute_unprepared("ALTER TABLE users DROP COLUMN kakao_id")
                    .await?;
            }
            Ok(())
        }
        .await;
        if sqlite {
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = db.execute_unprepared(end).await;
            db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
            ended?;
        }
        result
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "identities cannot be folded back into users.kakao_id (a user may have none)".into(),
        ))
    }
}
