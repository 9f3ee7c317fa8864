//! Embeds every `queries/<layer>/*.sql` in the binary, so that `crm` runs from any folder with
//! the views it was built with, and every `queries/outputs/*.sql`: the projections (columns,
//! filters, order) that commands print, `crm run` writes and the report reads.

use std::fmt::Write;
use std::path::Path;

const LAYERS: [&str; 4] = ["seeds", "staging", "marts", "analysis"];

fn main() {
    // Read when the script runs, not baked in when it was compiled: a build folder shared by two
    // checkouts reuses one compiled script for both.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("queries");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from(
        "/// (layer, view name, SQL) for every query file, layer by layer.\npub const QUERIES: &[(&str, &str, &str)] = &[\n",
    );
    for layer in LAYERS {
        for (name, path) in sql_files(&root.join(layer)) {
            writeln!(out, "    ({layer:?}, {name:?}, include_str!({path:?})),").unwrap();
        }
    }
    out.push_str("];\n");
    out.push_str(
        "/// (name, SQL) of every output query: read by name, never registered as a view.\npub const OUTPUTS: &[(&str, &str)] = &[\n",
    );
    for (name, path) in sql_files(&root.join("outputs")) {
        writeln!(out, "    ({name:?}, include_str!({path:?})),").unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("queries.rs");
    std::fs::write(dest, out).unwrap();
}

/// (name, path) of the `.sql` files of a query folder, by name, each watched for changes. A
/// binary built without its views would fail on every command: a missing folder stops the build
/// instead.
fn sql_files(dir: &Path) -> Vec<(String, String)> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the query folder {}: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            println!("cargo:rerun-if-changed={}", f.display());
            let name = f.file_stem().unwrap().to_string_lossy().to_string();
            (name, f.display().to_string())
        })
        .collect()
}
