//! The files a source names: one file, every file of a folder, or every file a glob pattern
//! (`exports/orders-*.csv.gz`) matches, in name order, so that a folder of daily drops loads
//! day by day. Each file is fingerprinted and recorded on its own: a plain file under the
//! source's name (as always), a file of a folder or pattern under `source/file name`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One file of a source and the key the manifest records its fingerprint under.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub key: String,
    pub path: PathBuf,
}

/// Whether a source's path is a pattern (it holds `*`, `?` or `[`).
pub fn is_pattern(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// Whether a manifest key belongs to the source `name` as one file of a folder or pattern.
pub fn is_file_of(key: &str, name: &str) -> bool {
    key.strip_prefix(name)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The files of the source `name` at `path`, in name order. A pattern or a folder that matches
/// no file is an error: a night whose drop did not arrive says so.
pub fn list(name: &str, path: &Path) -> Result<Vec<SourceFile>> {
    let mut found: Vec<PathBuf> = if is_pattern(path) {
        let pattern = path.to_string_lossy();
        glob::glob(&pattern)
            .map_err(|e| Error::source(path, format!("not a valid pattern: {e}")))?
            .filter_map(|entry| entry.ok())
            .filter(|p| p.is_file() && !hidden(p))
            .collect()
    } else if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| Error::source(path, format!("cannot list the folder: {e}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !hidden(p))
            .collect()
    } else {
        return Ok(vec![SourceFile {
            key: name.to_string(),
            path: path.to_path_buf(),
        }]);
    };
    if found.is_empty() {
        return Err(Error::source(
            path,
            "no file matches (a folder or pattern source needs at least one export)",
        ));
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then_with(|| a.cmp(b)));
    Ok(found
        .into_iter()
        .map(|p| SourceFile {
            key: format!("{name}/{}", file_label(&p)),
            path: p,
        })
        .collect())
}

fn file_label(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Files whose name starts with a dot (editors' and copy tools' temporaries) are not exports.
fn hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_and_a_pattern_list_their_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "orders-2024-12-07.csv",
            "orders-2024-12-06.csv",
            ".partial.csv",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let keys = |files: Vec<SourceFile>| files.into_iter().map(|f| f.key).collect::<Vec<_>>();
        assert_eq!(
            keys(list("orders", &dir.path().join("orders-*.csv")).unwrap()),
            [
                "orders/orders-2024-12-06.csv",
                "orders/orders-2024-12-07.csv"
            ]
        );
        assert_eq!(
            keys(list("orders", dir.path()).unwrap()),
            [
                "orders/notes.txt",
                "orders/orders-2024-12-06.csv",
                "orders/orders-2024-12-07.csv"
            ]
        );
        assert_eq!(
            keys(list("orders", &dir.path().join("x.csv")).unwrap()),
            ["orders"]
        );
        let err = list("orders", &dir.path().join("sales-*.csv")).unwrap_err();
        assert!(err.to_string().contains("no file matches"), "{err}");
        assert!(is_file_of("orders/orders-2024-12-06.csv", "orders"));
        assert!(!is_file_of("orders2/x.csv", "orders"));
        assert!(!is_file_of("orders", "orders"));
    }
}
