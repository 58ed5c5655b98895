//! Indexes the sweeper ([`crate::sweeper`]) reads by, so that finding what
//! can be deleted never scans the live rows: sessions by expiry and by
//! revocation, refresh tokens by expiry.

use sea_orm_migration::prelude::*;

use super::m20261127_000001_initial::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261215_000004_sweeper_indexes"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(
            "idx_sessions_expires_at",
            Sessions::Table,
            Sessions::ExpiresAt,
        ))
        .await?;
        m.create_index(index(
            "idx_sessions_revoked_at",
            Sessions::Table,
            Sessions::RevokedAt,
        ))
        .await?;
        m.create_index(index(
            "idx_refresh_tokens_expires_at",
            RefreshTokens::Table,
            RefreshTokens::ExpiresAt,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_sessions_expires_at", Alias::new("sessions")),
            ("idx_sessions_revoked_at", Alias::new("sessions")),
            (
                "idx_refresh_tokens_expires_at",
                Alias::new("refresh_tokens"),
            ),
        ] {
            m.drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
