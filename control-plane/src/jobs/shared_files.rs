//! Reference tracking of the files incremental checkpoints share under `JOB/shared/`
//! (Flink's `SharedStateRegistry`). A file is deleted once no retained checkpoint, no
//! pending one, and not the latest completed incremental checkpoint refers to it. The
//! latest incremental one stays protected even when a savepoint (canonical, sharing
//! nothing) subsumed it: subtasks skip uploading the files of the last completed
//! checkpoint they were told of, and a file alive in a later snapshot is alive in every
//! snapshot between, under the same name — so that set covers them.
//!
//! Files of a checkpoint that never completed (declined, expired, its attempt failed)
//! are deleted when nothing pending could still need a file of the same name: a later
//! pending checkpoint may be uploading that file without having acknowledged it yet.
//! The registry is rebuilt after a master restart from the retained checkpoints'
//! `_metadata` (which lists every completed checkpoint's shared files); only a complete
//! registry deletes files it does not know of (`orphans`).

use std::collections::BTreeSet;

use eddy_storage::Location;

use super::checkpoints::METADATA_FILE;

/// The key of a completed checkpoint's `_metadata` listing its shared files.
pub const METADATA_SHARED_FILES: &str = "shared_files";

#[derive(Debug, Default)]
pub(crate) struct SharedFiles {
    /// The shared files of the latest completed non-savepoint checkpoint.
    pub latest_incremental: BTreeSet<String>,
    /// Files of discarded checkpoints still protected (deleted once they are not).
    pub discarded: BTreeSet<String>,
    /// Files of checkpoints that never completed, deleted once no checkpoint is
    /// pending (and nothing retained refers to them).
    pub aborted: BTreeSet<String>,
    /// Every retained checkpoint's files are known (a new job's, or rebuilt from the
    /// retained checkpoints' metadata): only then are files nothing is known to refer
    /// to deleted.
    pub complete: bool,
    /// A checkpoint failed since the shared folder was last listed: a subtask may
    /// still have been uploading for it, so the folder is listed again at the next
    /// completion with nothing pending (see [`Self::relist_due`]).
    pub relist: bool,
}

impl SharedFiles {
    /// Takes the discarded files that neither `referenced` (the retained and pending
    /// checkpoints' files) nor the latest incremental checkpoint refers to; with
    /// `idle` (no checkpoint pending), the aborted checkpoints' files too.
    pub fn take_unreferenced<'a>(
        &mut self,
        referenced: impl Iterator<Item = &'a String>,
        idle: bool,
    ) -> BTreeSet<String> {
        if !self.complete {
            return BTreeSet::new();
        }
        let referenced: BTreeSet<&String> = referenced.collect();
        let latest = &self.latest_incremental;
        let needed = |f: &String| latest.contains(f) || referenced.contains(f);
        let (keep, mut delete): (BTreeSet<String>, BTreeSet<String>) =
            std::mem::take(&mut self.discarded)
                .into_iter()
                .partition(needed);
        self.discarded = keep;
        if idle {
            let aborted = std::mem::take(&mut self.aborted);
            delete.extend(aborted.into_iter().filter(|f| !needed(f)));
        }
        delete
    }

    /// A checkpoint that never completed: its acknowledged `files`, and with `listed`
    /// (the shared folder's files, when nothing is pending) every file of the folder,
    /// become candidates for deletion — the retained checkpoints keep theirs.
    pub fn abort(&mut self, files: BTreeSet<String>, listed: Option<Vec<String>>) {
        self.aborted.extend(files);
        self.aborted.extend(listed.into_iter().flatten());
    }

    /// Whether a checkpoint that just completed, with nothing pending (`idle`), should
    /// list the shared folder again: a checkpoint failed since the last listing, and
    /// uploads that finished after it failed (a subtask's writer uploads in checkpoint
    /// order, so they finished before that subtask acknowledged the completed one), or
    /// the files of a checkpoint whose Raft commit failed (ambiguous then, subsumed by
    /// the completed one now), are in the folder with nothing referring to them.
    pub fn relist_due(&mut self, idle: bool) -> bool {
        let due = self.relist && idle && self.complete;
        if due {
            self.relist = false;
        }
        due
    }
}

/// The shared files a completed checkpoint's `_metadata` lists (`None`: metadata of a
/// checkpoint from before the list existed, or not JSON).
pub fn listed_in_metadata(metadata: &[u8]) -> Option<BTreeSet<String>> {
    let value: serde_json::Value = serde_json::from_slice(metadata).ok()?;
    value
        .get(METADATA_SHARED_FILES)?
        .as_array()?
        .iter()
        .map(|f| f.as_str().map(str::to_string))
        .collect()
}

/// A retained checkpoint found again after a master restart.
pub(crate) struct Retained {
    pub id: u64,
    pub path: String,
    /// `None`: its metadata lists no shared files (older) or could not be read.
    pub files: Option<BTreeSet<String>>,
    pub is_savepoint: bool,
}

/// The newest `num_retained` of `candidates` (completed checkpoints `(id, path,
/// savepoint)`, newest first) whose directory still holds `_metadata`, with the shared
/// files it lists; oldest first.
pub(crate) async fn read_retained(
    job_id: &str,
    candidates: Vec<(u64, String, bool)>,
    num_retained: usize,
) -> Vec<Retained> {
    let mut found = Vec::new();
    for (id, path, is_savepoint) in candidates {
        if found.len() == num_retained {
            break;
        }
        let metadata = match Location::open(&path) {
            Ok(dir) => dir.get(METADATA_FILE).await,
            Err(e) => Err(e),
        };
        let files = match metadata {
            Ok(Some(bytes)) => listed_in_metadata(&bytes),
            // Deleted by retention before the restart.
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(%job_id, checkpoint_id = id, error = %e, "cannot read a retained checkpoint's metadata");
                None
            }
        };
        found.push(Retained {
            id,
            path,
            files,
            is_savepoint,
        });
    }
    found.reverse();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_shared_file_is_deleted_once_nothing_refers_to_it() {
        let mut files = SharedFiles {
            latest_incremental: set(&["b", "c"]),
            discarded: set(&["a", "b", "x"]),
            complete: true,
            ..SharedFiles::default()
        };
        // Checkpoint 1 {a, b, x} discarded; 2 {b, c} is the latest; a pending one has a.
        let pending = set(&["a"]);
        assert_eq!(files.take_unreferenced(pending.iter(), false), set(&["x"]));
        assert_eq!(files.discarded, set(&["a", "b"]));
        // The pending one completed without a; a savepoint (no shared files) subsumed 2:
        // b stays while 2 is the latest incremental checkpoint.
        assert_eq!(
            files.take_unreferenced(std::iter::empty(), true),
            set(&["a"])
        );
        files.latest_incremental = set(&["c", "d"]);
        assert_eq!(
            files.take_unreferenced(std::iter::empty(), true),
            set(&["b"])
        );
        assert!(files.discarded.is_empty());
    }

    /// An aborted checkpoint's files go once nothing is pending, except those a
    /// retained or the latest checkpoint holds; the listed folder's unknown files
    /// (uploads no acknowledgement named) go with them; an incomplete registry (a
    /// retained checkpoint's files unknown) deletes nothing.
    #[test]
    fn a_failed_checkpoint_makes_the_next_idle_completion_list_the_folder_again() {
        let mut files = SharedFiles {
            complete: true,
            ..SharedFiles::default()
        };
        assert!(!files.relist_due(true), "nothing failed");
        files.relist = true;
        assert!(!files.relist_due(false), "a checkpoint is pending");
        assert!(files.relist_due(true));
        assert!(!files.relist_due(true), "listed once per failure");
        files.relist = true;
        files.complete = false;
        assert!(
            !files.relist_due(true),
            "an incomplete registry deletes nothing unknown"
        );
    }

    #[test]
    fn files_of_checkpoints_that_never_completed_are_deleted_when_idle() {
        let mut files = SharedFiles {
            latest_incremental: set(&["c"]),
            complete: true,
            ..SharedFiles::default()
        };
        files.abort(set(&["c", "n1", "r"]), None);
        let retained = set(&["r"]);
        // Another checkpoint is pending: it may be uploading n1 unacknowledged.
        assert!(files.take_unreferenced(retained.iter(), false).is_empty());
        assert_eq!(files.take_unreferenced(retained.iter(), true), set(&["n1"]));
        assert!(files.aborted.is_empty());
        let listed = vec!["c".to_string(), "r".to_string(), "orphan".to_string()];
        files.abort(BTreeSet::new(), Some(listed));
        assert_eq!(
            files.take_unreferenced(retained.iter(), true),
            set(&["orphan"])
        );

        let mut unknown = SharedFiles::default();
        unknown.abort(set(&["n1"]), Some(vec!["x".into()]));
        assert!(
            unknown
                .take_unreferenced(std::iter::empty(), true)
                .is_empty()
        );
    }

    /// The newest retained checkpoints with readable metadata, oldest first; a
    /// deleted one is skipped, an older metadata's files are unknown.
    #[tokio::test]
    async fn retained_checkpoints_are_read_back_from_their_metadata() {
        let root = tempfile::tempdir().unwrap();
        let dir = |id: u64| format!("{}/chk-{id}", root.path().display());
        let write = |id: u64, meta: &str| {
            std::fs::create_dir_all(dir(id)).unwrap();
            std::fs::write(format!("{}/{METADATA_FILE}", dir(id)), meta).unwrap();
        };
        write(5, r#"{"shared_files": ["a", "b"]}"#);
        write(4, r#"{"checkpoint_id": 4}"#);
        write(2, r#"{"shared_files": ["a"]}"#);
        let candidates = vec![
            (5, dir(5), false),
            (4, dir(4), true),
            (3, dir(3), false),
            (2, dir(2), false),
        ];
        let found = read_retained("job", candidates, 3).await;
        let ids: Vec<u64> = found.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![2, 4, 5]);
        assert_eq!(found[0].files, Some(set(&["a"])));
        assert_eq!(found[1].files, None);
        assert!(found[1].is_savepoint);
        assert_eq!(found[2].files, Some(set(&["a", "b"])));
    }

    #[test]
    fn metadata_lists_the_shared_files() {
        let meta = br#"{"checkpoint_id": 3, "shared_files": ["a", "b"]}"#;
        assert_eq!(listed_in_metadata(meta), Some(set(&["a", "b"])));
        assert_eq!(listed_in_metadata(br#"{"checkpoint_id": 3}"#), None);
        assert_eq!(listed_in_metadata(b"garbage"), None);
    }
}
