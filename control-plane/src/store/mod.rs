//! The catalog and history store: sqlx over Postgres or SQLite, one schema
//! (`migrations/postgres` and `migrations/sqlite` are kept identical in meaning).
//!
//! Every write carries the Raft term of the leader that makes it and runs in a
//! transaction that first claims that term in `leader_fence`; a write from a leader
//! whose term is older than the newest claimed one is refused ([`StoreError::Fenced`]).

mod checkpoints;
mod jobs;
mod workers;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Row, Transaction};

pub use checkpoints::{
    CheckpointRow, CheckpointSubtaskRow, MAX_CHECKPOINTS_LISTED, status as checkpoint_status,
};
pub use jobs::{
    JobExceptionRow, JobRow, JobStatusChange, MAX_EXCEPTIONS_LISTED, MAX_JOBS_LISTED,
    TERMINAL_STATUSES,
};
pub use workers::{ClusterEventRow, WorkerRow};

/// How long to wait for a database connection before giving up (start-up and requests).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound of pooled connections per master.
pub const MAX_CONNECTIONS: u32 = 8;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot create the directory for the SQLite database {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("migrating the database at {url} failed: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("write refused: leader term {term} is older than the store's term {current} (fenced)")]
    Fenced { term: u64, current: u64 },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl StoreKind {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }
}

/// Handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    kind: StoreKind,
}

impl Store {
    /// Connects (creating a SQLite file and its directory if missing) and runs the
    /// migrations of that database kind.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let kind = StoreKind::from_url(url)?;
        let url = match kind {
            StoreKind::Sqlite => prepare_sqlite_url(url)?,
            StoreKind::Postgres => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(&url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(&url),
                source,
            })?;
        let migrator = match kind {
            StoreKind::Sqlite => &SQLITE_MIGRATIONS,
            StoreKind::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                url: redact(&url),
                source,
            })?;
        Ok(Store { pool, kind })
    }

    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The newest Raft term any leader has written with.
    pub async fn fence_term(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT term FROM leader_fence WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(to_u64(row.try_get::<i64, _>("term")?))
    }

    /// Begins a transaction for a write by the leader of `term`, after claiming `term`
    /// in the fence. Fails with [`StoreError::Fenced`] for a stale leader.
    pub(crate) async fn begin_fenced(
        &self,
        term: u64,
    ) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query("UPDATE leader_fence SET term = $1 WHERE id = 1 AND term <= $1")
            .bind(to_i64(term))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed != 1 {
            let row = sqlx::query("SELECT term FROM leader_fence WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
            let current = to_u64(row.try_get::<i64, _>("term")?);
            tx.rollback().await?;
            return Err(StoreError::Fenced { term, current });
        }
        Ok(tx)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Turns `sqlite://PATH` into a URL that creates the file, and creates its directory.
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: path.to_string(),
            source,
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Hides the password of a database URL for logs and errors.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// SQL integers are signed; Eddy's counters and timestamps never exceed i64::MAX.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://eddy:secret@127.0.0.1/db"),
            "postgres://eddy:***@127.0.0.1/db"
        );
        assert_eq!(
            redact("postgres://eddy@127.0.0.1/db"),
            "postgres://eddy@127.0.0.1/db"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn kinds_from_urls() {
        assert_eq!(
            StoreKind::from_url("sqlite://a.db").ok(),
            Some(StoreKind::Sqlite)
        );
        assert_eq!(
            StoreKind::from_url("postgresql://h/db").ok(),
            Some(StoreKind::Postgres)
        );
        assert!(matches!(
            StoreKind::from_url("mysql://h/db"),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn sqlite_urls_create_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/eddy.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", path.display())).expect("url");
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(path.parent().map(|p| p.exists()).unwrap_or(false));
    }
}
