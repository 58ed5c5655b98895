//! Adds the revocation log (`revocations`), portable like the initial
//! schema: `big_pk_auto` is `integer PRIMARY KEY AUTOINCREMENT` on SQLite
//! (a position is never reused, even after the purge) and `bigserial` on
//! PostgreSQL.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000001_revocations"
    }
}

#[derive(DeriveIden)]
enum Revocations {
    Table,
    Seq,
    Kind,
    SessionId,
    UserId,
    Kid,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Revocations::Table)
                .if_not_exists()
                .col(big_pk_auto(Revocations::Seq))
                .col(string_len(Revocations::Kind, 16))
                .col(string_len_null(Revocations::SessionId, 36))
                .col(string_len_null(Revocations::UserId, 36))
                .col(string_len_null(Revocations::Kid, 64))
                .col(big_integer(Revocations::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("idx_revocations_created_at")
                .table(Revocations::Table)
                .col(Revocations::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Revocations::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
