//! Keys at rest and key activation: signing keys get an activation time
//! (`NULL`: active since created); the sealed refresh successor becomes an
//! AEAD ciphertext (longer than the old 64 characters, so `text` on
//! PostgreSQL; SQLite does not enforce lengths) and is cleared after the
//! grace window, which a partial index on the still-sealed rows keeps
//! cheap. Successors sealed the old way (a pad derived from the retired
//! token alone) are cleared: a replay of a token rotated just before the
//! upgrade is refused instead of answered.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261215_000003_keys_at_rest"
    }
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    ActivatesAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    RotatedAt,
    SuccessorSealed,
}

/// The index the cleanup of sealed successors reads.
const SEALED_INDEX: &str = "idx_refresh_tokens_sealed_rotated_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if !m.has_column("signing_keys", "activates_at").await? {
            m.alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .add_column(big_integer_null(SigningKeys::ActivatesAt))
                    .to_owned(),
            )
            .await?;
        }
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .modify_column(text_null(RefreshTokens::SuccessorSealed))
                    .to_owned(),
            )
            .await?;
        }
        m.exec_stmt(
            Query::update()
                .table(RefreshTokens::Table)
                .value(RefreshTokens::SuccessorSealed, Option::<String>::None)
                .and_where(Expr::col(RefreshTokens::SuccessorSealed).is_not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name(SEALED_INDEX)
                .table(RefreshTokens::Table)
                .col(RefreshTokens::RotatedAt)
                .and_where(Expr::col(RefreshTokens::SuccessorSealed).is_not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .if_exists()
                .name(SEALED_INDEX)
                .table(RefreshTokens::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SigningKeys::Table)
                .drop_column(SigningKeys::ActivatesAt)
                .to_owned(),
        )
        .await
    }
}
