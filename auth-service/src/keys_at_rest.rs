//! Keys at rest across the key tables (`signing_keys`, `state_sealing_keys`):
//! the check every start makes before it writes anything, and
//! `auth-service keys rewrap`, which also moves the provider grants kept on
//! identities (`identities.grant_sealed`) to the new key. The start's check
//! reads only the key tables: reading every identity would make the start
//! grow with the users. How one key is encrypted is
//! `domain::KeyEncryption`'s.

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::{
    configuration::ConfigError,
    domain::{
        KeyEncryption, KeyEncryptionKey, OpenError, is_encrypted, provider_grant_row,
        signing_key_row, state_sealing_key_row,
    },
    persistence::{identities, signing_keys, state_sealing_keys},
};

/// One stored key: which row, and its stored value.
struct StoredKey {
    row: String,
    stored: String,
    table: Table,
}

enum Table {
    Signing(String),
    Sealing(i16),
    /// An identity's provider grant, by the identity's row id.
    Grant(String),
}

async fn stored_keys(db: &impl ConnectionTrait) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    for k in signing_keys::all(db).await? {
        keys.push(StoredKey {
            row: signing_key_row(&k.kid),
            stored: k.private_key,
            table: Table::Signing(k.kid),
        });
    }
    for k in state_sealing_keys::all(db).await? {
        keys.push(StoredKey {
            row: state_sealing_key_row(k.id),
            stored: k.secret,
            table: Table::Sealing(k.id),
        });
    }
    Ok(keys)
}

/// Checks, before the start writes anything, that every stored key opens
/// with `encryption`. A missing or wrong `KEY_ENCRYPTION_KEY` is a
/// [`ConfigError`] naming it (the start stops with that one line and
/// changes nothing). Warns when keys are (or will be) stored in the clear.
pub async fn check_at_start(
    db: &impl ConnectionTrait,
    encryption: &KeyEncryption,
) -> anyhow::Result<()> {
    let keys = stored_keys(db).await?;
    let mut plain = 0usize;
    for key in &keys {
        match encryption.open(&key.row, &key.stored) {
            Ok(_) if !is_encrypted(&key.stored) => plain += 1,
            Ok(_) => {}
            Err(OpenError::NoKey) => {
                return Err(ConfigError::new(
                    "KEY_ENCRYPTION_KEY",
                    "required: the keys in the database are encrypted",
                )
                .into());
            }
            Err(OpenError::WrongKey) => {
                return Err(ConfigError::new(
                    "KEY_ENCRYPTION_KEY",
                    "does not open the keys in the database (another key?)",
                )
                .into());
            }
            Err(OpenError::Malformed) => {
                anyhow::bail!("the stored key {} is malformed", key.row)
            }
        }
    }
    if !encryption.is_on() {
        tracing::warn!(
            "KEY_ENCRYPTION_KEY is not set: signing and sealing keys are stored in the clear \
             (a copy of the database can sign access tokens); set it in production"
        );
    } else if plain > 0 {
        tracing::warn!(
            plain,
            "keys are stored in the clear; run `auth-service keys rewrap` to encrypt them"
        );
    }
    Ok(())
}

/// What `keys rewrap` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrapped {
    /// Keys encrypted anew under the new key-encryption key.
    pub rewrapped: usize,
    /// Keys already under it.
    pub unchanged: usize,
}

/// `auth-service keys rewrap`: encrypts every stored key under `new`
/// (`KEY_ENCRYPTION_KEY`): plain keys, and keys under `old`
/// (`OLD_KEY_ENCRYPTION_KEY`) when given. In one transaction: when one key
/// cannot be opened nothing is changed.
pub async fn rewrap(
    db: &DatabaseConnection,
    new: &KeyEncryptionKey,
    old: Option<&KeyEncryptionKey>,
) -> anyhow::Result<Rewrapped> {
    let new_enc = KeyEncryption::new(Some(new.clone()));
    let old_enc = old.map(|k| KeyEncryption::new(Some(k.clone())));
    let txn = db.begin().await?;
    let mut done = Rewrapped {
        rewrapped: 0,
        unchanged: 0,
    };
    let mut keys = stored_keys(&txn).await?;
    for grant in identities::with_grants(&txn).await? {
        if let Some(stored) = grant.grant_sealed {
            keys.push(StoredKey {
                row: provider_grant_row(&grant.provider, &grant.subject),
                stored,
                table: Table::Grant(grant.id),
            });
        }
    }
    for key in keys {
        let secret = match new_enc.open(&key.row, &key.stored) {
            Ok(_) if is_encrypted(&key.stored) => {
                done.unchanged += 1;
                continue;
            }
            Ok(secret) => secret,
            Err(OpenError::WrongKey) => match &old_enc {
                Some(old_enc) => old_enc.open(&key.row, &key.stored).map_err(|_| {
                    ConfigError::new("OLD_KEY_ENCRYPTION_KEY", "does not open the stored keys")
                })?,
                None => {
                    return Err(ConfigError::new(
                        "KEY_ENCRYPTION_KEY",
                        "does not open the stored keys; give the key they are under in \
                         OLD_KEY_ENCRYPTION_KEY",
                    )
                    .into());
                }
            },
            Err(e) => anyhow::bail!("the stored key {}: {e}", key.row),
        };
        let sealed = new_enc.seal(&key.row, &secret);
        let stored = match &key.table {
            Table::Signing(kid) => {
                signing_keys::replace_private_key(&txn, kid, &key.stored, sealed).await?
            }
            Table::Sealing(id) => {
                state_sealing_keys::replace_secret(&txn, *id, &key.stored, sealed).await?
            }
            Table::Grant(id) => identities::replace_grant(&txn, id, &key.stored, sealed).await?,
        };
        anyhow::ensure!(stored, "the key {} changed meanwhile; run again", key.row);
        done.rewrapped += 1;
    }
    txn.commit().await?;
    Ok(done)
}
