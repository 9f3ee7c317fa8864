//! A warehouse on S3-compatible object storage: `warehouse.path = "s3://bucket/prefix"`, with the
//! endpoint, region and credentials from the usual AWS environment variables (`AWS_ENDPOINT_URL`,
//! `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` for a plain-http
//! endpoint), read and written through the `object_store` crate DataFusion reads with.
//!
//! The layout is the local one: `manifest.json` and the immutable Parquet files it names under
//! `data/` and `rejects/`. A load works on a local working copy of the warehouse (it reads the
//! rows it holds to tell new records from known ones) and publishes in two steps:
//! 1. every file the new manifest names and the previous one did not is uploaded; their names
//!    carry the load's own token, so two loads never write the same object;
//! 2. the manifest is replaced with a conditional PUT: `If-Match` the ETag of the manifest the
//!    load started from (`If-None-Match: *` for the first load). That PUT is the one atomic step:
//!    readers see the old warehouse or the new one, and of two loads that started from the same
//!    manifest the second fails ("another load committed first") instead of overwriting the
//!    first one's rows. Versioned manifests with a pointer object would need the same conditional
//!    write for the pointer, so the manifest itself is the pointer.
//!
//! A load killed before step 2 leaves the previous manifest, and objects no manifest names; the
//! next load removes those. Objects the previous manifest named and the new one does not are kept
//! for one more load: a reader that opened the previous version finishes its queries (a reader
//! that outlives two loads gets "not found", never a mix of versions).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use url::Url;

use super::{DATA_DIRS, MANIFEST, Manifest};
use crate::error::{Error, Result};

/// Files a load uploads at the same time.
const UPLOADS_AT_ONCE: usize = 4;

/// Where a remote warehouse lives.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `s3://bucket/prefix`, without a trailing slash: what messages show.
    pub url: String,
    prefix: Key,
    store: Arc<dyn ObjectStore>,
}

/// The manifest a load started from, as the store holds it.
#[derive(Debug, Clone)]
pub struct Base {
    pub manifest: Option<Manifest>,
    version: Option<UpdateVersion>,
}

/// True for a warehouse path that names object storage rather than a folder.
pub fn is_remote(path: &str) -> bool {
    path.contains("://")
}

impl Remote {
    /// The warehouse at `url` (`s3://bucket` or `s3://bucket/prefix`), with a client configured
    /// from the environment.
    pub fn new(url: &str) -> Result<Remote> {
        let bad = |m: String| Error::warehouse(url, m);
        let parsed = Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
        if parsed.scheme() != "s3" {
            return Err(bad(format!(
                "{}:// is not a warehouse location crm reads; use a folder or s3://bucket/prefix",
                parsed.scheme()
            )));
        }
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad("no bucket (s3://bucket/prefix)".into()))?;
        let prefix = Key::from(parsed.path().trim_matches('/'));
        let store = s3_store(bucket).map_err(|e| bad(e.to_string()))?;
        let url = format!("s3://{bucket}/{prefix}")
            .trim_end_matches('/')
            .to_string();
        Ok(Remote { url, prefix, store })
    }

    fn key(&self, rel: &str) -> Key {
        let mut key = self.prefix.clone();
        for part in rel.split('/') {
            key = key.clone().join(part);
        }
        key
    }

    /// The URL of a file of the warehouse, for a query to read.
    pub fn file_url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::warehouse(&self.url, format!("{what}: {e}"))
    }

    /// The manifest and its version, or none when the warehouse has no manifest yet.
    pub async fn manifest(&self) -> Result<Base> {
        let key = self.key(MANIFEST);
        let got = match self.store.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok(Base {
                    manifest: None,
                    version: None,
                });
            }
            Err(e) => return Err(self.fail("cannot read manifest.json", e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.fail("cannot read manifest.json", e))?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| self.fail("unreadable manifest.json", e))?;
        Ok(Base {
            manifest: Some(manifest),
            version: Some(version),
        })
    }

    async fn download(&self, rel: &str, to: &Path) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let got = self
            .store
            .get(&self.key(rel))
            .await
            .map_err(|e| self.fail(&format!("cannot read {rel}"), e))?;
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        // Written beside and renamed: a download cut short never looks like the file.
        let part = to.with_extension("parquet.part");
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(|e| Error::io(&part, e))?;
        let mut chunks = got.into_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.fail(&format!("cannot read {rel}"), e))?;
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::io(&part, e))?;
        }
        out.sync_all().await.map_err(|e| Error::io(&part, e))?;
        std::fs::rename(&part, to).map_err(|e| Error::io(to, e))
    }

    async fn upload_owned(&self, from: PathBuf, rel: String) -> Result<()> {
        self.upload(&from, &rel).await
    }

    async fn upload(&self, from: &Path, rel: &str) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut file = tokio::fs::File::open(from)
            .await
            .map_err(|e| Error::io(from, e))?;
        // Multipart past 10 MB, one PUT below it; an upload cut short leaves no object.
        let mut writer = object_store::buffered::BufWriter::new(self.store.clone(), self.key(rel));
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        let closed = match copied {
            Ok(_) => writer.shutdown().await,
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        };
        closed.map_err(|e| self.fail(&format!("cannot write {rel}"), e))
    }

    /// Replaces the manifest with `next` if it is still the one `base` read.
    async fn replace_manifest(&self, next: &Manifest, base: &Base) -> Result<()> {
        let text = serde_json::to_string_pretty(next).expect("manifest serialises");
        let mode = match &base.version {
            Some(v) => PutMode::Update(v.clone()),
            None => PutMode::Create,
        };
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.key(MANIFEST), PutPayload::from(text), opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Err(Error::warehouse(
                &self.url,
                "another load committed to this warehouse while this one ran: nothing of this load was published (its uploaded files are removed by the next load); run it again",
            )),
            Err(e) => Err(self.fail("cannot replace manifest.json", e)),
        }
    }

    /// Every data object under the warehouse, relative to it.
    async fn data_objects(&self) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for folder in DATA_DIRS {
            let mut listing = self.store.list(Some(&self.key(folder)));
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(|e| self.fail(&format!("cannot list {folder}/"), e))?;
                let full = meta.location.as_ref();
                let rel = full
                    .strip_prefix(self.prefix.as_ref())
                    .unwrap_or(full)
                    .trim_start_matches('/');
                found.push(rel.to_string());
            }
        }
        Ok(found)
    }

    /// Removes objects that neither `next` nor `previous` names and that a load of a version up
    /// to `next`'s wrote: leftovers of loads that never committed. A load still running started
    /// from an older manifest and will fail its commit, so its files may go; a load that started
    /// from `next` writes files of a later version, which stay.
    async fn remove_unreferenced(
        &self,
        next: &Manifest,
        previous: Option<&Manifest>,
    ) -> Result<usize> {
        let mut keep: BTreeSet<&str> = BTreeSet::new();
        for m in std::iter::once(next).chain(previous) {
            keep.extend(
                m.tables
                    .values()
                    .flat_map(|t| t.files.iter().map(String::as_str)),
            );
        }
        let mut removed = 0;
        for rel in self.data_objects().await? {
            let old_enough = file_version(&rel).is_some_and(|v| v <= next.version);
            if old_enough && !keep.contains(rel.as_str()) {
                self.store
                    .delete(&self.key(&rel))
                    .await
                    .map_err(|e| self.fail(&format!("cannot remove {rel}"), e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The load version in a data file's name (`data/<table>/v000012-<tag>.parquet`).
fn file_version(rel: &str) -> Option<u64> {
    let name = rel.rsplit('/').next()?;
    let digits = name.strip_prefix('v')?.split('-').next()?;
    digits.parse().ok()
}

/// An S3 client for `bucket` configured from the environment.
fn s3_store(bucket: &str) -> object_store::Result<Arc<dyn ObjectStore>> {
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()?;
    Ok(Arc::new(store))
}

/// Runs `work` to completion on a runtime of its own, on a thread of its own: the load is
/// synchronous code, and may itself be called from within the async runtime of `crm run`.
fn block_on<T: Send>(work: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime starts")
                .block_on(work)
        })
        .join()
        .expect("the object storage thread does not panic")
    })
}

/// Makes the working copy at `dir` the warehouse the store holds: its manifest, and every file it
/// names that the copy lacks (files are immutable and their names unique, so a file present is
/// the same file). Gives the manifest the load starts from. Call with the working copy's lock.
pub fn pull(remote: &Remote, dir: &Path) -> Result<Base> {
    block_on(async {
        let base = remote.manifest().await?;
        let Some(manifest) = &base.manifest else {
            // An empty warehouse: the working copy starts empty too.
            let local = dir.join(MANIFEST);
            if local.exists() {
                std::fs::remove_file(&local).map_err(|e| Error::io(&local, e))?;
            }
            return Ok(base);
        };
        for rel in manifest.tables.values().flat_map(|t| t.files.iter()) {
            let path = dir.join(rel);
            if !path.exists() {
                remote.download(rel, &path).await?;
            }
        }
        let text = serde_json::to_string_pretty(manifest).expect("manifest serialises");
        let tmp = dir.join(super::MANIFEST_TMP);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        let path = dir.join(MANIFEST);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(base)
    })
}

/// Publishes the working copy's manifest `next` (committed locally at `dir`) to the store: the
/// files it adds to `base`, then the manifest in one conditional PUT, then the removal of what
/// no load needs any more. `before_commit` runs between the uploads and the manifest (the tests'
/// interrupted load). Gives how many objects were removed.
pub fn push(
    remote: &Remote,
    dir: &Path,
    next: &Manifest,
    base: &Base,
    before_commit: impl FnOnce() -> Result<()> + Send,
) -> Result<usize> {
    block_on(async {
        let before: BTreeSet<&String> = base
            .manifest
            .iter()
            .flat_map(|m| m.tables.values().flat_map(|t| t.files.iter()))
            .collect();
        // A few uploads at a time: each is mostly waiting on the network.
        let new: Vec<(PathBuf, String)> = next
            .tables
            .values()
            .flat_map(|t| t.files.iter())
            .filter(|rel| !before.contains(rel))
            .map(|rel| (dir.join(rel), rel.clone()))
            .collect();
        futures_util::stream::iter(new)
            .map(|(from, rel)| remote.upload_owned(from, rel))
            .buffer_unordered(UPLOADS_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        before_commit()?;
        remote.replace_manifest(next, base).await?;
        remote
            .remove_unreferenced(next, base.manifest.as_ref())
            .await
    })
}

/// A token unique to one load, put in the names of the files it writes to a remote warehouse:
/// two loads (two machines, or a killed load and the next) never write the same object.
pub fn load_token() -> String {
    format!("{:012x}", rand::random::<u64>() >> 16)
}

/// The registry of object stores for every session of crm (client, scheduler, executors): the
/// local file system, and an S3 client, configured from the process's environment, for each
/// bucket a plan names, made on first use. A cluster's processes need no list of buckets.
#[derive(Debug, Default)]
pub struct Stores {
    inner: DefaultObjectStoreRegistry,
}

impl Stores {
    pub fn registry() -> Arc<dyn ObjectStoreRegistry> {
        Arc::new(Stores::default())
    }
}

impl ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        match self.inner.get_store(url) {
            Ok(store) => Ok(store),
            Err(_) if url.scheme() == "s3" => {
                // Two tasks may both make one: the second registration replaces the first,
                // an identical client.
                let bucket = url.host_str().unwrap_or_default();
                let store = s3_store(bucket)
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                let root = Url::parse(&format!("s3://{bucket}")).expect("a bucket URL parses");
                self.inner.register_store(&root, store.clone());
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

/// The warehouse folder a command shows for a remote warehouse: its URL.
pub fn display_dir(remote: &Remote) -> PathBuf {
    PathBuf::from(&remote.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_files_version_is_read_from_its_name() {
        assert_eq!(
            file_version("data/transactions/v000012-orders_csv-ab12.parquet"),
            Some(12)
        );
        assert_eq!(file_version("rejects/rejects/v000003-x.parquet"), Some(3));
        assert_eq!(file_version("data/transactions/notes.txt"), None);
        assert!(is_remote("s3://crm-warehouse/acme"));
        assert!(!is_remote("/var/lib/crm/warehouse"));
    }
}
