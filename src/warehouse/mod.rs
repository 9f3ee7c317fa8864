//! The Parquet warehouse: a folder of Parquet files and one `manifest.json` that says which files
//! make up each table. A load writes new files beside the old ones and then swaps the manifest in
//! one rename, so a crash at any point leaves the previous warehouse readable and whole
//! (DATA-CONTRACT.md "Bad input"). Files no manifest names are leftovers of an interrupted load
//! and are removed by the next one.

pub mod leases;
pub mod remote;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MANIFEST: &str = "manifest.json";
/// The warehouse layout this build writes. 2: customer and order surrogate keys
/// (`tables::KEYED`); a format-1 warehouse is upgraded by the next `crm ingest`.
/// 3: the manifest names the function of the rows' record hashes ([`RecordHash`]); a build
/// that would hash with another one refuses the warehouse instead of loading every known
/// record again as changed.
pub const FORMAT: u32 = 3;
/// The first format whose rows carry surrogate keys.
pub const KEYS_FORMAT: u32 = 2;
const MANIFEST_TMP: &str = "manifest.json.tmp";
const LOCK: &str = ".lock";
/// Folders whose files belong to the manifest.
const DATA_DIRS: [&str; 2] = ["data", "rejects"];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// Increases by one with every load that changed something.
    pub version: u64,
    pub updated_at: String,
    /// Table name -> the files (relative to the warehouse folder) that hold its rows.
    pub tables: BTreeMap<String, TableEntry>,
    /// Source name -> fingerprint of the export last loaded from it.
    pub sources: BTreeMap<String, SourceFingerprint>,
    /// Every load that changed the warehouse, oldest first.
    pub loads: Vec<LoadEntry>,
    /// How the rows' `record_hash` was computed (older warehouses: blake3).
    #[serde(default)]
    pub record_hash: RecordHash,
}

/// The function of a row's `record_hash`, the 64-bit hash of its canonical content by which a
/// load tells a record it already holds (a duplicate) from a changed one. A warehouse keeps
/// the function it started with: its stored hashes are compared with every later load's.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RecordHash {
    /// The first 8 bytes of blake3: warehouses started before format 3.
    #[default]
    Blake3,
    /// xxh3-64: about 15x cheaper for a record of ~100 bytes, which was 8% of a load's CPU
    /// (perf, 10M lines). A collision makes a changed record look unchanged only for a record
    /// of the same id: about 5e-20 per changed record.
    Xxh3,
}

impl RecordHash {
    /// The hash of a record's canonical content.
    pub fn of(self, content: &[u8]) -> i64 {
        match self {
            RecordHash::Blake3 => {
                let h = blake3::hash(content);
                i64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
            }
            RecordHash::Xxh3 => xxhash_rust::xxh3::xxh3_64(content) as i64,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub files: Vec<String>,
    pub rows: u64,
    /// Every file of the table is sorted by these columns (empty: no order promised).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorted_by: Vec<String>,
    /// Sorted files (by their path in `files`): the first and last customer_key of each row
    /// group, in file order. The engine cuts the table into customer ranges with them and
    /// reads each range as a stream of its own (engine.rs, `CustomerParts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub row_group_keys: BTreeMap<String, Vec<(i64, i64)>>,
    /// Transactions files (by their path in `files`): the latest `ts` of each (micros since
    /// the epoch, UTC), from which the default as_of is found without a scan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latest_ts: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceFingerprint {
    pub path: String,
    /// Bytes of a file; rows of a database source.
    pub size: u64,
    pub blake3: String,
    /// A database source read incrementally: the highest `incremental_column` value (as
    /// PostgreSQL writes it as text) the load saw; the next load reads the rows past it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadEntry {
    pub version: u64,
    pub at: String,
    pub files: Vec<FileStats>,
}

/// Per-file counts of one load. `read = loaded + rejected + duplicates` always holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileStats {
    pub source: String,
    pub table: String,
    pub path: String,
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Loaded, with a caveat recorded in the rejects table (e.g. non-UTF-8 bytes).
    pub flagged: u64,
    /// Rejects by reason (the reason's kind, without the value).
    pub reasons: BTreeMap<String, u64>,
    /// For each reason, its first record: number and whole reason (with the value). Printed
    /// when a load is refused for its reject rate; not kept in the manifest.
    #[serde(skip)]
    pub examples: BTreeMap<String, (u64, String)>,
    /// True when the export was unchanged since the last load and not read again.
    #[serde(default)]
    pub skipped: bool,
}

#[derive(Debug)]
pub struct Warehouse {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// A reader's lease on the files of `manifest` (leases.rs); None for a load, which holds
    /// the load lock instead.
    lease: Option<leases::Lease>,
    /// A warehouse on object storage (remote.rs): where its files are read from. `dir` is then
    /// its URL for messages (a reader) or the local working copy (a load).
    pub remote: Option<remote::Remote>,
    /// Put in the names of new files: a load's own token on a remote warehouse.
    pub file_token: Option<String>,
}

/// Held while a load runs: a second `crm run` from cron waits for nothing and fails clearly.
pub struct LoadLock {
    _file: File,
}

impl Warehouse {
    /// Opens the warehouse at `dir`; an absent folder or manifest is an empty warehouse.
    pub fn open(dir: &Path) -> Result<Warehouse> {
        let path = dir.join(MANIFEST);
        let manifest = match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::warehouse(&path, format!("unreadable manifest: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest {
                format: FORMAT,
                record_hash: RecordHash::Xxh3,
                ..Default::default()
            },
            Err(e) => return Err(Error::io(&path, e)),
        };
        if manifest.format > FORMAT {
            return Err(Error::warehouse(
                &path,
                format!(
                    "written by a newer crm (warehouse format {}; this build reads up to {FORMAT})",
                    manifest.format
                ),
            ));
        }
        Ok(Warehouse {
            dir: dir.to_path_buf(),
            manifest,
            lease: None,
            remote: None,
            file_token: None,
        })
    }

    /// Opens an existing warehouse for reading, as one version: the files of the manifest
    /// read here stay until this value is dropped, whatever loads run meanwhile (leases.rs).
    pub fn open_snapshot(dir: &Path) -> Result<Warehouse> {
        // Each retry follows a load's commit; a load takes seconds at the least.
        const TRIES: usize = 100;
        for _ in 0..TRIES {
            let mut wh = Warehouse::open_existing(dir)?;
            let lease = leases::Lease::take(dir, wh.manifest.version, wh.files())?;
            let Some(lease) = lease else {
                // A read-only warehouse: no load can remove anything from it.
                return Ok(wh);
            };
            if Warehouse::open(dir)?.manifest.version == wh.manifest.version {
                wh.lease = Some(lease);
                return Ok(wh);
            }
        }
        Err(Error::warehouse(
            dir,
            format!("the manifest changed {TRIES} times while a reader opened it"),
        ))
    }

    /// A warehouse value for a manifest not read from disk (for tests of the code that plans
    /// over a manifest).
    pub fn with_manifest(dir: PathBuf, manifest: Manifest) -> Warehouse {
        Warehouse {
            dir,
            manifest,
            lease: None,
            remote: None,
            file_token: None,
        }
    }

    /// Opens a warehouse on object storage for reading, as the version its manifest names now.
    /// No lease: a load keeps the files of the version before its own (remote.rs).
    pub async fn open_remote(remote: remote::Remote) -> Result<Warehouse> {
        let base = remote.manifest().await?;
        let Some(manifest) = base.manifest else {
            return Err(Error::warehouse(
                &remote.url,
                "no warehouse here (no manifest.json): run `crm ingest --config FILE` first",
            ));
        };
        if manifest.format > FORMAT {
            return Err(Error::warehouse(
                &remote.url,
                format!(
                    "written by a newer crm (warehouse format {}; this build reads up to {FORMAT})",
                    manifest.format
                ),
            ));
        }
        Ok(Warehouse {
            dir: remote::display_dir(&remote),
            manifest,
            lease: None,
            remote: Some(remote),
            file_token: None,
        })
    }

    /// Where a query reads each file of `table`: an absolute path, or an object's URL.
    pub fn table_locations(&self, table: &str) -> Result<Vec<String>> {
        let Some(entry) = self.manifest.tables.get(table) else {
            return Ok(Vec::new());
        };
        entry
            .files
            .iter()
            .map(|rel| match &self.remote {
                Some(remote) => Ok(remote.file_url(rel)),
                None => {
                    let path = self.dir.join(rel);
                    let abs = std::path::absolute(&path).map_err(|e| Error::io(&path, e))?;
                    Ok(abs.to_string_lossy().into_owned())
                }
            })
            .collect()
    }

    /// Where this reader's queries spill: a folder of its lease, so that a reader killed
    /// mid-query leaves nothing behind that the next load does not remove. None without a
    /// lease (the system's temporary folder is used then).
    pub fn spill_dir(&self) -> Option<PathBuf> {
        self.lease.as_ref().map(leases::Lease::spill_dir)
    }

    /// Written before the keys (format 1) and holding rows without them: `crm ingest` upgrades
    /// such a warehouse, the queries refuse it.
    pub fn lacks_keys(&self) -> bool {
        self.manifest.format < KEYS_FORMAT
            && tables::KEYED
                .iter()
                .any(|t| !self.table_files(t.name()).is_empty())
    }

    /// Every file the manifest names, relative to the warehouse folder.
    pub fn files(&self) -> Vec<String> {
        self.manifest
            .tables
            .values()
            .flat_map(|t| t.files.iter().cloned())
            .collect()
    }

    /// Opens a warehouse that must exist (for commands that read it).
    pub fn open_existing(dir: &Path) -> Result<Warehouse> {
        if !dir.join(MANIFEST).exists() {
            return Err(Error::warehouse(
                dir,
                "no warehouse here (no manifest.json): run `crm ingest --config FILE` first, or pass --warehouse DIR",
            ));
        }
        Warehouse::open(dir)
    }

    pub fn lock(&self) -> Result<LoadLock> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let path = self.dir.join(LOCK);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(LoadLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::warehouse(
                &self.dir,
                "another load is running on this warehouse (it holds .lock)",
            )),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    pub fn table_files(&self, table: &str) -> Vec<PathBuf> {
        self.manifest
            .tables
            .get(table)
            .map(|t| t.files.iter().map(|f| self.dir.join(f)).collect())
            .unwrap_or_default()
    }

    pub fn table_rows(&self, table: &str) -> u64 {
        self.manifest.tables.get(table).map(|t| t.rows).unwrap_or(0)
    }

    /// A path for a new data file; never one the manifest names.
    pub fn new_file(
        &self,
        folder: &str,
        table: &str,
        version: u64,
        tag: &str,
    ) -> (String, PathBuf) {
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let rel = match &self.file_token {
            Some(token) => format!("{folder}/{table}/v{version:06}-{tag}-{token}.parquet"),
            None => format!("{folder}/{table}/v{version:06}-{tag}.parquet"),
        };
        let abs = self.dir.join(&rel);
        (rel, abs)
    }

    /// Writes `next` to a temporary file and renames it over the manifest: the one atomic step
    /// of a load. Then removes the files no manifest names any more.
    pub fn commit(&mut self, next: Manifest) -> Result<()> {
        let tmp = self.dir.join(MANIFEST_TMP);
        let text = serde_json::to_string_pretty(&next).expect("manifest serialises");
        {
            let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| Error::io(&tmp, e))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        let path = self.dir.join(MANIFEST);
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.manifest = next;
        self.remove_unreferenced()?;
        Ok(())
    }

    /// Removes data files the manifest does not name and a half-written manifest: what an
    /// interrupted load leaves behind. Call with the lock held.
    pub fn remove_unreferenced(&self) -> Result<usize> {
        // What a reader still reads is kept too, until a later load finds its lease gone.
        let mut keep: BTreeSet<PathBuf> = leases::held_files(&self.dir)?;
        keep.extend(self.files().iter().map(|f| self.dir.join(f)));
        let mut removed = 0;
        let tmp = self.dir.join(MANIFEST_TMP);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
            removed += 1;
        }
        for folder in DATA_DIRS {
            let root = self.dir.join(folder);
            if !root.exists() {
                continue;
            }
            for table_dir in fs::read_dir(&root).map_err(|e| Error::io(&root, e))? {
                let table_dir = table_dir.map_err(|e| Error::io(&root, e))?.path();
                if !table_dir.is_dir() {
                    continue;
                }
                for f in fs::read_dir(&table_dir).map_err(|e| Error::io(&table_dir, e))? {
                    let f = f.map_err(|e| Error::io(&table_dir, e))?.path();
                    if f.extension().is_some_and(|e| e == "parquet") && !keep.contains(&f) {
                        fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// Size and content hash of an export, to tell whether it changed since the last load.
pub fn fingerprint(path: &Path) -> Result<SourceFingerprint> {
    let f = open_source(path)?;
    let size = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(f).map_err(|e| Error::io(path, e))?;
    Ok(SourceFingerprint {
        path: path.display().to_string(),
        size,
        blake3: hasher.finalize().to_hex().to_string(),
        watermark: None,
    })
}

/// The size of an export, checking that it can be opened: what tells, before any content is
/// hashed, that an export changed since its last load (a different size).
pub fn source_size(path: &Path) -> Result<u64> {
    let f = open_source(path)?;
    Ok(f.metadata().map_err(|e| Error::io(path, e))?.len())
}

/// Opens an export, which must be a regular file: a FIFO would block the load until something
/// writes to it (a nightly job hanging with no message), and a device such as /dev/zero never
/// ends. The type is checked before opening, since opening a FIFO itself blocks.
fn open_source(path: &Path) -> Result<File> {
    let not_found = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::source(path, "file not found"),
        _ => Error::source(path, format!("cannot open: {e}")),
    };
    let meta = fs::metadata(path).map_err(not_found)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a pipe, socket or device)"
        };
        return Err(Error::source(
            path,
            format!("{what}: an export must be a file"),
        ));
    }
    File::open(path).map_err(not_found)
}

/// An export's fingerprint taken as a load reads it, so that a changed export is read once,
/// not once to hash and again to load (at 100M lines, 8.8 GB: 3.5 s on one core before the
/// first record, BENCHMARKS.md). It hashes the bytes that pass through [`Fingerprinting::reader`];
/// if those were not the whole file as it was opened (a reader that stopped short, a file
/// that changed meanwhile), [`Fingerprinting::finish`] hashes the file again instead.
pub struct Fingerprinting {
    path: PathBuf,
    size: u64,
    state: Hashed,
}

/// The hash of the bytes read so far and their count, shared by a [`Fingerprinting`] and its
/// reader (which a load hands to its reading thread).
type Hashed = std::sync::Arc<std::sync::Mutex<(blake3::Hasher, u64)>>;

impl Fingerprinting {
    pub fn new(path: &Path, size: u64) -> Fingerprinting {
        Fingerprinting {
            path: path.to_path_buf(),
            size,
            state: Default::default(),
        }
    }

    /// `inner`, hashing every byte read from it.
    pub fn reader<R: std::io::Read>(&self, inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            state: self.state.clone(),
        }
    }

    pub fn finish(self) -> Result<SourceFingerprint> {
        let (hasher, read) = &*self.state.lock().expect("no reader panics holding it");
        let now = source_size(&self.path)?;
        if *read != self.size || now != self.size {
            return fingerprint(&self.path);
        }
        Ok(SourceFingerprint {
            path: self.path.display().to_string(),
            size: self.size,
            blake3: hasher.finalize().to_hex().to_string(),
            watermark: None,
        })
    }
}

/// A reader that feeds its bytes to a [`Fingerprinting`].
pub struct HashingReader<R> {
    inner: R,
    state: Hashed,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.state.lock().expect("no reader panics holding it");
        state.0.update(&buf[..n]);
        state.1 += n as u64;
        Ok(n)
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The fingerprint taken while a load reads an export is the one `fingerprint` takes, and
    /// a reader that stops short does not leave a hash of part of the file.
    #[test]
    fn a_fingerprint_taken_on_the_way_is_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.csv");
        let content: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        fs::write(&path, &content).unwrap();
        let whole = fingerprint(&path).unwrap();
        assert_eq!(whole.size, content.len() as u64);
        assert_eq!(whole.blake3, blake3::hash(&content).to_hex().to_string());

        let hashing = Fingerprinting::new(&path, source_size(&path).unwrap());
        let mut reader = hashing.reader(File::open(&path).unwrap());
        let mut piece = vec![0u8; 7_777];
        while reader.read(&mut piece).unwrap() > 0 {}
        assert_eq!(hashing.finish().unwrap(), whole);

        let hashing = Fingerprinting::new(&path, source_size(&path).unwrap());
        let mut reader = hashing.reader(File::open(&path).unwrap());
        reader.read_exact(&mut piece).unwrap();
        assert_eq!(hashing.finish().unwrap(), whole, "read in part");

        // The export grew after it was opened: the hash is of the file as it is now.
        let hashing = Fingerprinting::new(&path, source_size(&path).unwrap());
        std::io::copy(
            &mut hashing.reader(File::open(&path).unwrap()),
            &mut std::io::sink(),
        )
        .unwrap();
        fs::write(&path, [&content[..], b"x"].concat()).unwrap();
        let grown = hashing.finish().unwrap();
        assert_eq!(grown.size, content.len() as u64 + 1);
        assert_ne!(grown.blake3, whole.blake3);
    }
}
