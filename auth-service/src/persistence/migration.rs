//! Portable schema migrations (sea-orm-migration helpers, no dialect SQL),
//! applied at start by every replica.

use sea_orm_migration::{prelude::*, schema::*};

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial::Migration),
            Box::new(m20261201_000002_sealed_login_state::Migration),
            Box::new(super::revocations_migration::Migration),
            Box::new(m20261215_000003_keys_at_rest::Migration),
            Box::new(m20261215_000004_sweeper_indexes::Migration),
            Box::new(m20261230_000005_identities::Migration),
        ]
    }
}

/// Arbitrary constant naming our PostgreSQL advisory lock.
const MIGRATION_LOCK: i64 = 0x6b61_6b61_6f5f_6d69;

/// Applies pending migrations; when none is pending (every start but the
/// first after an upgrade) that is one query. On PostgreSQL they run in one transaction
/// holding an advisory lock, so replicas starting at once apply them one
/// after the other (the second finds nothing pending). On SQLite, with no
/// such lock, replicas starting at once can both apply a migration (its
/// tables are created if missing) and race to record it; the loser's
/// second pass finds it recorded and does nothing.
pub async fn migrate(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;
    if all_applied(db).await {
        return Ok(());
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await
    } else if Migrator::up(db, None).await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        Migrator::up(db, None).await
    } else {
        Ok(())
    }
}

/// Whether every migration is recorded already: one query, the usual case
/// at start, instead of the migrator's table checks and its lock (several
/// round trips). Any error (no table yet) means "run the migrator".
async fn all_applied(db: &sea_orm::DatabaseConnection) -> bool {
    use std::collections::HashSet;

    use sea_orm::{ConnectionTrait, Statement};
    let table = Migrator::migration_table_name().to_string();
    let query = Statement::from_string(
        db.get_database_backend(),
        format!(r#"SELECT version FROM "{table}""#),
    );
    let Ok(rows) = db.query_all_raw(query).await else {
        return false;
    };
    let applied: HashSet<String> = rows
        .iter()
        .filter_map(|row| row.try_get::<String>("", "version").ok())
        .collect();
    Migrator::migrations()
        .iter()
        .all(|m| applied.contains(m.name()))
}

mod m20261201_000002_sealed_login_state;
mod m20261215_000003_keys_at_rest;
mod m20261215_000004_sweeper_indexes;
mod m20261230_000005_identities;

mod m20261127_000001_initial {
    use super::*;

    /// `CREATE INDEX IF NOT EXISTS name ON table (col)`.
    pub(super) fn index(
        name: &str,
        table: impl IntoIden,
        col: impl IntoIden,
    ) -> IndexCreateStatement {
        Index::create()
            .if_not_exists()
            .name(name)
            .table(table)
            .col(col)
            .to_owned()
    }

    /// A foreign key whose rows go away with their parent.
    fn cascade(
        name: &str,
        from: (impl IntoIden, impl IntoIden),
        to: (impl IntoIden, impl IntoIden),
    ) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .name(name)
            .from(from.0, from.1)
            .to(to.0, to.1)
            .on_delete(ForeignKeyAction::Cascade)
            .to_owned()
    }

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261127_000001_initial"
        }
    }

    #[derive(DeriveIden)]
    enum Users {
        Table,
        Id,
        KakaoId,
        Nickname,
        ProfileImageUrl,
        ThumbnailImageUrl,
        Email,
        CreatedAt,
        LastLoginAt,
        UnlinkedAt,
    }

    #[derive(DeriveIden)]
    enum LoginAttempts {
        Table,
        State,
        BindingHash,
        Nonce,
        ReturnTo,
        CreatedAt,
        ExpiresAt,
        ClaimedAt,
    }

    #[derive(DeriveIden)]
    enum Sessions {
        Table,
        Id,
        UserId,
        CreatedAt,
        ExpiresAt,
        RevokedAt,
        RevokedReason,
    }

    #[derive(DeriveIden)]
    enum RefreshTokens {
        Table,
        Id,
        SessionId,
        TokenHash,
        CreatedAt,
        ExpiresAt,
        RotatedAt,
        SuccessorSealed,
    }

    #[derive(DeriveIden)]
    enum SigningKeys {
        Table,
        Kid,
        Algorithm,
        PrivateKey,
        PublicKey,
        CreatedAt,
        RetiredAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(string_len(Users::Id, 36).primary_key())
                    .col(big_integer_uniq(Users::KakaoId))
                    .col(string(Users::Nickname))
                    .col(text_null(Users::ProfileImageUrl))
                    .col(text_null(Users::ThumbnailImageUrl))
                    .col(string_null(Users::Email))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::LastLoginAt))
                    .col(big_integer_null(Users::UnlinkedAt))
                    .to_owned(),
            )
            .await?;
            m.create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .if_not_exists()
                    .col(string_len(LoginAttempts::State, 64).primary_key())
                    .col(string_len(LoginAttempts::BindingHash, 64))
                    .col(string_len(LoginAttempts::Nonce, 64))
                    .col(text(LoginAttempts::ReturnTo))
                    .col(big_integer(LoginAttempts::CreatedAt))
                    .col(big_integer(LoginAttempts::ExpiresAt))
                    .col(big_integer_null(LoginAttempts::ClaimedAt))
                    .to_owned(),
            )
            .await?;
            m.create_index(index(
                "idx_login_attempts_expires_at",
                LoginAttempts::Table,
                LoginAttempts::ExpiresAt,
            ))
            .await?;
            m.create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(string_len(Sessions::Id, 36).primary_key())
                    .col(string_len(Sessions::UserId, 36))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::RevokedReason, 32))
                    .foreign_key(&mut cascade(
                        "fk_sessions_user",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
            m.create_index(index(
                "idx_sessions_user_id",
                Sessions::Table,
                Sessions::UserId,
            ))
            .await?;
            m.create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(string_len(RefreshTokens::Id, 36).primary_key())
                    .col(string_len(RefreshTokens::SessionId, 36))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(big_integer(RefreshTokens::CreatedAt))
                    .col(big_integer(RefreshTokens::ExpiresAt))
                    .col(big_integer_null(RefreshTokens::RotatedAt))
                    .col(string_len_null(RefreshTokens::SuccessorSealed, 64))
                    .foreign_key(&mut cascade(
                        "fk_refresh_tokens_session",
                        (RefreshTokens::Table, RefreshTokens::SessionId),
                        (Sessions::Table, Sessions::Id),
                    ))
                    .to_owned(),
            )
            .await?;
            m.create_index(index(
                "idx_refresh_tokens_session_id",
                RefreshTokens::Table,
                RefreshTokens::SessionId,
            ))
            .await?;
            m.create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .if_not_exists()
                    .col(string_len(SigningKeys::Kid, 64).primary_key())
                    .col(string_len(SigningKeys::Algorithm, 16))
                    .col(text(SigningKeys::PrivateKey))
                    .col(text(SigningKeys::PublicKey))
                    .col(big_integer(SigningKeys::CreatedAt))
                    .col(big_integer_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;
            Ok(())
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(
                Table::drop()
                    .table(RefreshTokens::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
            m.drop_table(Table::drop().table(Sessions::Table).if_exists().to_owned())
                .await?;
            m.drop_table(
                Table::drop()
                    .table(LoginAttempts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
            m.drop_table(
                Table::drop()
                    .table(SigningKeys::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
            m.drop_table(Table::drop().table(Users::Table).if_exists().to_owned())
                .await?;
            Ok(())
        }
    }
}
