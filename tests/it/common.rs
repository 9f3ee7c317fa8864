use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/data/cdnow/<name>`: the CDNOW files the repository carries (their README says where
/// they come from and which published values they reproduce).
pub fn cdnow(name: &str) -> PathBuf {
    repo().join("tests/data/cdnow").join(name)
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("crm").expect("crm binary");
        c.current_dir(self.dir.path())
            .args(args)
            .env_remove("CRM_FAULT_INJECT");
        c
    }

    /// `crm args` as a plain process command, for tests that start it and act while it runs.
    pub fn process(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_crm"));
        c.current_dir(self.dir.path())
            .args(args)
            .env_remove("CRM_FAULT_INJECT");
        c
    }

    /// Runs `crm args` and insists it succeeds; on failure shows everything a reader needs.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run crm");
        if !out.status.success() {
            panic!("{}", describe(args, &out));
        }
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs `crm args` and insists it fails; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run crm");
        if out.status.success() {
            panic!("expected failure\n{}", describe(args, &out));
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Copies the shipped sample (exports and pipeline.toml) into `sample-data/` here; its
    /// warehouse and reports then land in this sandbox's `target/`.
    pub fn with_sample(&self) -> PathBuf {
        let dst = self.path("sample-data");
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(repo().join("sample-data")).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
            }
        }
        dst.join("pipeline.toml")
    }

    /// The result of `crm query --sql SQL --format csv` as rows of fields (header first).
    pub fn csv(&self, config: &Path, sql: &str, extra: &[&str]) -> Vec<Vec<String>> {
        let cfg = config.to_str().unwrap();
        let mut args = vec!["query", "--config", cfg, "--format", "csv", "--sql", sql];
        args.extend_from_slice(extra);
        parse_csv(&self.ok(&args))
    }
}

impl Sandbox {
    /// [`Sandbox::csv`] with environment variables set (a warehouse on object storage).
    pub fn csv_with(&self, env: &[(&str, String)], config: &Path, sql: &str) -> Vec<Vec<String>> {
        let cfg = config.to_str().unwrap();
        let args = ["query", "--config", cfg, "--format", "csv", "--sql", sql];
        let mut cmd = self.cmd(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run crm");
        assert!(out.status.success(), "{}", describe(&args, &out));
        parse_csv(&String::from_utf8(out.stdout).expect("utf-8 stdout"))
    }
}

pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

pub fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "command: crm {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn manifest(warehouse: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(warehouse.join("manifest.json")).unwrap())
        .unwrap()
}

/// Every file below `dir`, at any depth (none when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
