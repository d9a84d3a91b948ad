//! Checkpoint storage (Flink's `CheckpointStorage` location): where checkpoints,
//! savepoints and their `_metadata` live. A location is a local directory (a path, or a
//! `file://` URL) or an object store URL (`s3://bucket/prefix`, configured from the
//! standard `AWS_*` environment variables — `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` reach an
//! S3-compatible server). A [`Location`] is a "directory": files are named relative to
//! it. Workers write snapshots and read them to restore; the master writes metadata,
//! deletes subsumed checkpoints, copies savepoints and browses state.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Files listed in one directory at most (explicit limit).
pub const MAX_FILES_LISTED: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid checkpoint storage location '{location}': {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error("checkpoint storage {location}: {source}")]
    Store {
        location: String,
        #[source]
        source: object_store::Error,
    },
    #[error("checkpoint storage {location}: more than {MAX_FILES_LISTED} files")]
    TooManyFiles { location: String },
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// One directory of checkpoint storage.
#[derive(Debug, Clone)]
pub struct Location {
    /// As given (a path or URL): what the master stores and sends to workers.
    text: String,
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
}

impl Location {
    /// Opens a location: `s3://bucket/prefix`, `file:///abs/dir`, or a directory path
    /// (created if missing).
    pub fn open(location: &str) -> Result<Location> {
        let invalid = |reason: String| StorageError::InvalidLocation {
            location: location.to_string(),
            reason,
        };
        let trimmed = location.trim_end_matches('/');
        if let Some(rest) = trimmed.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("no bucket".into()));
            }
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Location {
                text: trimmed.to_string(),
                store: Arc::new(store),
                prefix: StorePath::from(prefix),
            });
        }
        let dir = match trimmed.strip_prefix("file://") {
            Some(path) => path.to_string(),
            None if trimmed.contains("://") => {
                return Err(invalid("use a directory, file:// or s3://".into()));
            }
            None => trimmed.to_string(),
        };
        let dir = if dir.is_empty() { "/".to_string() } else { dir };
        std::fs::create_dir_all(&dir).map_err(|e| invalid(e.to_string()))?;
        let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| invalid(e.to_string()))?;
        Ok(Location {
            text: dir,
            store: Arc::new(store),
            prefix: StorePath::default(),
        })
    }

    /// The location as given (what to store and send on).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a local directory (then `as_str` is its path).
    pub fn is_local(&self) -> bool {
        !self.text.starts_with("s3://")
    }

    /// The sub-directory `name` (one or more `/`-separated parts).
    pub fn child(&self, name: &str) -> Location {
        let mut prefix = self.prefix.clone();
        for part in name.split('/').filter(|p| !p.is_empty()) {
            prefix = prefix.clone().join(part);
        }
        Location {
            text: format!("{}/{}", self.text, name.trim_matches('/')),
            store: self.store.clone(),
            prefix,
        }
    }

    fn path(&self, file: &str) -> StorePath {
        self.prefix.clone().join(file)
    }

    fn error(&self, source: object_store::Error) -> StorageError {
        StorageError::Store {
            location: self.text.clone(),
            source,
        }
    }

    pub async fn put(&self, file: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(file), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// A file's bytes; `None` if it does not exist.
    pub async fn get(&self, file: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(file)).await {
            Ok(result) => result.bytes().await.map(Some).map_err(|e| self.error(e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The files directly in this directory: (name, size), by name.
    pub async fn list(&self) -> Result<Vec<(String, u64)>> {
        let listing = self.store.list_with_delimiter(Some(&self.prefix)).await;
        let listing = match listing {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        if listing.objects.len() > MAX_FILES_LISTED {
            return Err(StorageError::TooManyFiles {
                location: self.text.clone(),
            });
        }
        let mut files: Vec<(String, u64)> = listing
            .objects
            .into_iter()
            .filter_map(|o| o.location.filename().map(|name| (name.to_string(), o.size)))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Deletes one file of this directory (missing is fine).
    pub async fn delete(&self, file: &str) -> Result<()> {
        match self.store.delete(&self.path(file)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Deletes every file under this directory (missing is fine).
    pub async fn delete_all(&self) -> Result<()> {
        let paths: Vec<StorePath> = match self
            .store
            .list(Some(&self.prefix))
            .map_ok(|o| o.location)
            .try_collect()
            .await
        {
            Ok(p) => p,
            Err(object_store::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(self.error(e)),
        };
        for path in paths {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(())
    }

    /// Copies the files directly in this directory into `target`.
    pub async fn copy_to(&self, target: &Location) -> Result<()> {
        for (name, _) in self.list().await? {
            let bytes = self.get(&name).await?.unwrap_or_default();
            target.put(&name, bytes.to_vec()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_directory_puts_gets_lists_copies_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::open(dir.path().to_str().unwrap()).unwrap();
        assert!(root.is_local());
        let chk = root.child("job/chk-1");
        chk.put("0-0", b"snap".to_vec()).await.unwrap();
        chk.put("_metadata", b"{}".to_vec()).await.unwrap();
        assert!(
            dir.path().join("job/chk-1/0-0").is_file(),
            "a plain file on disk"
        );
        assert_eq!(chk.get("0-0").await.unwrap().as_deref(), Some(&b"snap"[..]));
        assert_eq!(chk.get("missing").await.unwrap(), None);
        let names: Vec<String> = chk.list().await.unwrap().into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["0-0", "_metadata"]);
        let sp = root.child("savepoints/sp-1");
        chk.copy_to(&sp).await.unwrap();
        assert_eq!(sp.get("0-0").await.unwrap().as_deref(), Some(&b"snap"[..]));
        chk.delete("0-0").await.unwrap();
        chk.delete("0-0").await.unwrap();
        assert_eq!(chk.get("0-0").await.unwrap(), None);
        chk.delete_all().await.unwrap();
        assert!(chk.list().await.unwrap().is_empty());
        assert!(root.child("never").list().await.unwrap().is_empty());
        assert!(Location::open("gs://bucket/x").is_err());
        assert_eq!(
            Location::open("s3://bucket/a/b")
                .unwrap()
                .child("c")
                .as_str(),
            "s3://bucket/a/b/c"
        );
    }
}
