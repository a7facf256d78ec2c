//! The store's one error type.

use serde::Serialize;
use ulak_core::model::ValidationErrors;

use crate::SecretError;

/// Everything a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist — or belongs to another company, which is never revealed.
    #[error("not found")]
    NotFound,
    /// A unique field already has this value in the company.
    #[error("{field} already exists")]
    Conflict {
        /// The field (e.g. `phone`, `login`, `name`).
        field: String,
    },
    /// Input broke a rule.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// A debit would make the credit balance negative.
    #[error("insufficient credit: balance {balance}, change {amount}")]
    InsufficientCredit {
        /// Balance before the change.
        balance: i64,
        /// The change refused.
        amount: i64,
    },
    /// The object is in a state where this is not possible (a campaign already finished,
    /// say).
    #[error("{0}")]
    WrongState(String),
    /// The change would leave the company without an active administrator (demoting,
    /// deactivating or deleting the last one).
    #[error("the company's last active administrator cannot be demoted, deactivated or deleted")]
    LastAdmin,
    /// The change would leave the server without an active system administrator (demoting,
    /// deactivating, deleting the last one or taking their system administration).
    #[error(
        "the server's last active system administrator cannot be demoted, deactivated, deleted \
         or lose system administration"
    )]
    LastSystemAdmin,
    /// The idempotency key was used in the last 24 hours for a different request.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyConflict,
    /// An all-or-nothing import stored nothing because of these rows.
    #[error("import rejected: {} rows cannot be stored", rows.len())]
    ImportRejected {
        /// The rows and why.
        rows: Vec<ImportRowError>,
    },
    /// A stored value could not be read back (edited by hand or a bug).
    #[error("corrupt stored value in {what}")]
    Corrupt {
        /// Table and column.
        what: &'static str,
    },
    /// Encryption or decryption of a secret failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Password hashing failed.
    #[error("password hashing failed")]
    Hash,
    /// Bad configuration (URL, key).
    #[error("configuration: {0}")]
    Config(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A failure of the SQLite writer thread's own connection (accept groups and claims).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// The store is shutting down, or its caller stopped waiting: the write (an accept, a
    /// claim, a submit record or a receipt batch) was not taken.
    #[error("the store is shutting down")]
    Closed,
    /// The write's own code failed unexpectedly (a panic: a bug). On the SQLite writer thread
    /// its open transaction rolled back and the thread goes on for the others; a claim task
    /// that panicked after its claim committed leaves those messages to their lease's end.
    #[error("an internal fault (a panic) stopped the work")]
    Panicked,
}

impl StoreError {
    /// Sorts a database error: unique violations become [`StoreError::Conflict`] with the
    /// column name, found from PostgreSQL's constraint name (`<table>_uq_<field>`) or
    /// SQLite's message (`UNIQUE constraint failed: t.company_id, t.<field>`).
    pub(crate) fn from_sqlx(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let field = match db.constraint() {
                Some(c) => c.rsplit("_uq_").next().unwrap_or(c).to_owned(),
                None => db
                    .message()
                    .rsplit('.')
                    .next()
                    .unwrap_or("unknown")
                    .trim()
                    .to_owned(),
            };
            return Self::Conflict { field };
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return Self::NotFound;
        }
        Self::Database(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    /// As [`StoreError::from_sqlx`]: a unique violation names its column from SQLite's
    /// message.
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, Some(message)) = &e
            && matches!(
                f.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
        {
            let field = message.rsplit('.').next().unwrap_or("unknown").trim();
            return Self::Conflict {
                field: field.to_owned(),
            };
        }
        if matches!(e, rusqlite::Error::QueryReturnedNoRows) {
            return Self::NotFound;
        }
        Self::Sqlite(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::from_sqlx(e)
    }
}

/// Why one row of an import was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRowError {
    /// 0-based index of the row in the input.
    pub index: usize,
    /// Machine-readable reason: `duplicate_in_batch` or `exists`.
    pub reason: &'static str,
    /// For `duplicate_in_batch`: index of the earlier row with the same phone.
    pub first_index: Option<usize>,
}
