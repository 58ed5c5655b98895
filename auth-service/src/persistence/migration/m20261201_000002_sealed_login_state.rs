//! Login starts write nothing: the attempt travels sealed inside `state`
//! (see `domain::sealed_state`). This replaces `login_attempts` with the
//! sealing keys every replica shares and the table of claimed states.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000002_sealed_login_state"
    }
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
}

#[derive(DeriveIden)]
enum StateSealingKeys {
    Table,
    Id,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginStateClaims {
    Table,
    StateId,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Attempts in flight during the upgrade are lost: those logins
        // answer `invalid_state` and the user starts again.
        m.drop_table(
            Table::drop()
                .table(LoginAttempts::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StateSealingKeys::Table)
                .if_not_exists()
                .col(small_integer(StateSealingKeys::Id).primary_key())
                .col(text(StateSealingKeys::Secret))
                .col(big_integer(StateSealingKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LoginStateClaims::Table)
                .if_not_exists()
                .col(string_len(LoginStateClaims::StateId, 32).primary_key())
                .col(big_integer(LoginStateClaims::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("idx_login_state_claims_expires_at")
                .table(LoginStateClaims::Table)
                .col(LoginStateClaims::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(LoginStateClaims::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(
            Table::drop()
                .table(StateSealingKeys::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
