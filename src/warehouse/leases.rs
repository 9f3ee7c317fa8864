//! Reader leases: a command that reads the warehouse works on the manifest version it opened,
//! whatever a load does meanwhile (DATA-CONTRACT.md "Snapshot reads").
//!
//! A load never changes a file; it writes new ones and swaps the manifest. What can hurt a
//! reader is only the removal of files the new manifest no longer names (the customers table
//! rewritten whole, an interrupted load's leftovers). So a reader holds a lease while it reads:
//! a small file `leases/<pid>-<n>.lease` listing the files of its version, locked (`flock`)
//! for as long as the reader lives. A load removes a file only when neither its own manifest
//! nor a live lease names it. The lock, not the file, says the lease is alive: a reader killed
//! with SIGKILL releases it with its process, and the next load removes the dead lease.
//!
//! The race between reading the manifest and the lease becoming visible is closed by the
//! order of steps: the lease is written and locked under a temporary name, renamed into place,
//! and only then is the manifest read again; if a load committed in between, the lease is
//! dropped and taken again for the new version. A load lists leases only after its commit, so
//! a version still current when its lease appeared is seen by every later removal.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The folder of the leases, inside the warehouse.
pub const DIR: &str = "leases";
const EXT: &str = "lease";
/// A temporary lease older than this was left by a reader that died while taking it.
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Serialize, Deserialize)]
struct Content {
    version: u64,
    pid: u32,
    /// The files of the version, relative to the warehouse folder.
    files: Vec<String>,
}

/// A live lease: the files it names stay until it is dropped.
#[derive(Debug)]
pub struct Lease {
    path: PathBuf,
    /// Holds the lock; closing it (drop, or the process's end) releases the lease.
    _file: File,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(self.spill_dir());
        let _ = fs::remove_file(&self.path);
    }
}

/// The spill folder that belongs to the lease at `lease`: removed with it, and by the next
/// load when its reader was killed (a query killed mid-spill left hundreds of MB in /tmp).
fn spill_dir_of(lease: &Path) -> PathBuf {
    lease.with_extension("spill")
}

impl Lease {
    /// Where the reader's queries spill to disk (created on demand by the engine).
    pub fn spill_dir(&self) -> PathBuf {
        spill_dir_of(&self.path)
    }

    /// Takes a lease on `files`, the files of manifest `version` of the warehouse at `dir`.
    /// None when the warehouse folder is read-only: no load can run there either.
    pub fn take(dir: &Path, version: u64, files: Vec<String>) -> Result<Option<Lease>> {
        static TAKEN: AtomicU64 = AtomicU64::new(0);
        let folder = dir.join(DIR);
        match fs::create_dir_all(&folder) {
            Ok(()) => {}
            Err(e) if read_only(&e) => return Ok(None),
            Err(e) => return Err(Error::io(&folder, e)),
        }
        let name = format!(
            "{}-{}",
            std::process::id(),
            TAKEN.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = folder.join(format!("{name}.tmp"));
        let path = folder.join(format!("{name}.{EXT}"));
        let mut file = match File::create(&tmp) {
            Ok(f) => f,
            Err(e) if read_only(&e) => return Ok(None),
            Err(e) => return Err(Error::io(&tmp, e)),
        };
        file.try_lock()
            .map_err(|e| Error::warehouse(&tmp, format!("cannot lock a reader lease: {e}")))?;
        let content = Content {
            version,
            pid: std::process::id(),
            files,
        };
        file.write_all(&serde_json::to_vec(&content).expect("lease serialises"))
            .and_then(|()| file.flush())
            .map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(Some(Lease { path, _file: file }))
    }
}

fn read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The files named by the live leases of the warehouse at `dir`; dead leases (their reader
/// gone) are removed on the way. Call with the load lock held.
pub fn held_files(dir: &Path) -> Result<BTreeSet<PathBuf>> {
    let folder = dir.join(DIR);
    let mut held = BTreeSet::new();
    let entries = match fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(held),
        Err(e) => return Err(Error::io(&folder, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&folder, e))?.path();
        let is = |ext: &str| path.extension().is_some_and(|e| e == ext);
        if is("tmp") {
            // Not yet a lease: its reader reads the manifest again once it is one. Removed
            // only when stale and unlocked.
            let old = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if old
                && let Ok(f) = File::open(&path)
                && f.try_lock_shared().is_ok()
            {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        if !is(EXT) {
            continue;
        }
        let file = match File::open(&path) {
            Ok(f) => f,
            // Released and removed by its reader meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        match file.try_lock_shared() {
            // Nobody holds it: its reader is gone.
            Ok(()) => {
                let _ = fs::remove_dir_all(spill_dir_of(&path));
                let _ = fs::remove_file(&path);
            }
            Err(fs::TryLockError::WouldBlock) => {
                let text = fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let content: Content = serde_json::from_slice(&text).map_err(|e| {
                    Error::warehouse(&path, format!("unreadable reader lease: {e}"))
                })?;
                held.extend(content.files.iter().map(|f| dir.join(f)));
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lease_holds_its_files_and_a_released_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = Lease::take(dir.path(), 3, vec!["data/t/v3.parquet".into()])
            .unwrap()
            .unwrap();
        let b = Lease::take(dir.path(), 4, vec!["data/t/v4.parquet".into()])
            .unwrap()
            .unwrap();
        let held = held_files(dir.path()).unwrap();
        assert!(held.contains(&dir.path().join("data/t/v3.parquet")));
        assert!(held.contains(&dir.path().join("data/t/v4.parquet")));
        drop(a);
        let held = held_files(dir.path()).unwrap();
        assert_eq!(held.len(), 1);
        assert!(held.contains(&dir.path().join("data/t/v4.parquet")));
        drop(b);
        assert!(held_files(dir.path()).unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join(DIR)).unwrap().count(), 0);
    }

    #[test]
    fn a_lease_whose_reader_died_is_removed_with_its_spill_folder() {
        // A lease file nobody holds locked: what a reader killed with SIGKILL leaves.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(DIR)).unwrap();
        let dead = dir.path().join(DIR).join("999999-0.lease");
        fs::write(
            &dead,
            r#"{"version":1,"pid":999999,"files":["data/t/v1.parquet"]}"#,
        )
        .unwrap();
        let spill = spill_dir_of(&dead);
        fs::create_dir_all(spill.join(".tmpAbc")).unwrap();
        fs::write(spill.join(".tmpAbc/sort-1.arrow"), b"spilled rows").unwrap();
        assert!(held_files(dir.path()).unwrap().is_empty());
        assert!(!dead.exists());
        assert!(!spill.exists());
    }
}
