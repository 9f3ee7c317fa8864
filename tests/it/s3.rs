//! A warehouse on S3-compatible object storage: a real S3 protocol server (moto's, from PyPI:
//! `pip install 'moto[server]'`, which `.ci/run` installs when missing) started by the test on a
//! free localhost port and killed when it ends. Loads publish there, every analysis reads from
//! there (the load's working copy deleted first), a load interrupted before its manifest leaves
//! the previous warehouse, and of two loads that started from one manifest the second fails.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

pub const BUCKET: &str = "crm-warehouse";

/// A moto S3 server on a free port with one empty bucket; killed on drop.
pub struct S3Server {
    child: Child,
    pub port: u16,
    _home: tempfile::TempDir,
}

impl S3Server {
    pub fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let home = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(home.path().join("moto.log")).unwrap();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(home.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; .ci/run installs it)");
        let server = S3Server {
            child,
            port,
            _home: home,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, body) = server.http("PUT", &format!("/{BUCKET}"));
        assert_eq!(status, 200, "create bucket: {body}");
        server
    }

    /// The environment through which crm (and a cluster's processes) reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "crm-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "crm-test-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// One plain HTTP request (moto does not check signatures): status and body.
    fn http(&self, method: &str, target: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_string())
    }

    /// The keys of the bucket's objects under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let (status, body) = self.http(
            "GET",
            &format!("/{BUCKET}?list-type=2&prefix={prefix}&max-keys=1000"),
        );
        assert_eq!(status, 200, "list: {body}");
        body.split("<Key>")
            .skip(1)
            .map(|k| k.split("</Key>").next().unwrap().to_string())
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cmd` with the server's environment.
pub fn on(server: &S3Server, mut cmd: assert_cmd::Command) -> assert_cmd::Command {
    for (k, v) in server.env() {
        cmd.env(k, v);
    }
    cmd
}

/// The sample's pipeline with its orders read from the folder `drops/` and the warehouse at
/// `warehouse` (plus `extra` lines in [warehouse]); written as `name`.
pub fn sample_config(sb: &Sandbox, name: &str, warehouse: &str, extra: &str) -> PathBuf {
    let sample = sb.with_sample();
    let text = std::fs::read_to_string(&sample).unwrap();
    let text = text
        .replace(
            "path = \"../target/sample-warehouse\"",
            &format!("path = {warehouse:?}\n{extra}"),
        )
        .replace("path = \"orders.csv.gz\"", "path = \"drops\"");
    assert!(text.contains("drops") && text.contains(warehouse));
    sb.write(&format!("sample-data/{name}"), &text)
}

/// The sample's order lines as two daily drops: `drops/` gets the first (or, with `second`, the
/// second) half, each with the header.
pub fn drop_orders(sb: &Sandbox, second: bool) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(repo().join("sample-data/orders.csv.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let (name, body) = if second {
        ("orders-2.csv", &lines[half..])
    } else {
        ("orders-1.csv", &lines[1..half])
    };
    let mut out = String::from(lines[0]);
    out.push('\n');
    for l in body {
        out.push_str(l);
        out.push('\n');
    }
    sb.write(&format!("sample-data/drops/{name}"), &out);
}

/// The object keys (under the bucket's `acme/` prefix) of the files a manifest names.
fn object_keys(manifest: &serde_json::Value) -> Vec<String> {
    manifest["tables"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|t| t["files"].as_array().unwrap().iter())
        .map(|f| format!("acme/{}", f.as_str().unwrap()))
        .collect()
}

fn run(server: &S3Server, sb: &Sandbox, args: &[&str]) -> String {
    let out = on(server, sb.cmd(args)).output().unwrap();
    assert!(out.status.success(), "{}", describe(args, &out));
    String::from_utf8(out.stdout).unwrap()
}

fn run_fails(server: &S3Server, sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = on(server, sb.cmd(args));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "expected failure\n{}",
        describe(args, &out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const ANALYSES: [&[&str]; 10] = [
    &["rfm"],
    &["segment", "--by", "rfm"],
    &["segment", "--by", "geographic"],
    &["retention"],
    &["retention", "--cohorts"],
    &["retention", "--growth"],
    &["lifecycle"],
    &["interactions", "--table", "channel_mix"],
    &["service", "--table", "satisfaction"],
    &["affinity", "--table", "category_affinity"],
];

/// Every analysis of `cfg` as CSV.
fn answers(server: &S3Server, sb: &Sandbox, cfg: &Path) -> Vec<String> {
    ANALYSES
        .iter()
        .map(|a| {
            let mut args = a.to_vec();
            args.extend(["--config", cfg.to_str().unwrap(), "--format", "csv"]);
            let out = run(server, sb, &args);
            assert!(out.lines().count() > 1, "{a:?} gave no rows");
            out
        })
        .collect()
}

fn remove_dir(p: &Path) {
    if p.exists() {
        std::fs::remove_dir_all(p).unwrap();
    }
}

#[test]
fn loads_publish_to_s3_and_every_analysis_reads_the_local_answer_from_there() {
    let server = S3Server::start();
    let sb = Sandbox::new();
    let local = sample_config(&sb, "local.toml", "wh-local", "");
    let s3 = sample_config(
        &sb,
        "s3.toml",
        &format!("s3://{BUCKET}/acme"),
        "working_copy = \"copy-a\"",
    );
    // A second machine: the same warehouse, another working copy.
    let s3_b = sample_config(
        &sb,
        "s3-b.toml",
        &format!("s3://{BUCKET}/acme"),
        "working_copy = \"copy-b\"",
    );
    let copy_a = sb.path("sample-data/copy-a");
    let copy_b = sb.path("sample-data/copy-b");

    // Day 1, from machine A.
    drop_orders(&sb, false);
    run(
        &server,
        &sb,
        &[
            "ingest",
            "--config",
            local.to_str().unwrap(),
            "--no-quality",
        ],
    );
    run(
        &server,
        &sb,
        &["ingest", "--config", s3.to_str().unwrap(), "--no-quality"],
    );
    let keys = server.keys("acme/");
    assert!(keys.contains(&"acme/manifest.json".to_string()), "{keys:?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(copy_a.join("manifest.json")).unwrap())
            .unwrap();
    let named = object_keys(&manifest);
    assert!(named.len() >= 4, "{named:?}");
    for f in &named {
        assert!(keys.contains(f), "{f} was not uploaded: {keys:?}");
    }
    // Readers need no working copy: they read the bucket.
    remove_dir(&copy_a);
    let day1 = answers(&server, &sb, &local);
    assert_eq!(answers(&server, &sb, &s3), day1, "day 1 on S3");
    assert!(!copy_a.exists(), "a reader wrote a working copy");

    // Day 2, from machine B, whose working copy starts empty: it pulls the warehouse, then
    // loads only the new drop (the first one is known by its fingerprint).
    drop_orders(&sb, true);
    run(
        &server,
        &sb,
        &[
            "ingest",
            "--config",
            local.to_str().unwrap(),
            "--no-quality",
        ],
    );
    let out = run(
        &server,
        &sb,
        &["ingest", "--config", s3_b.to_str().unwrap(), "--no-quality"],
    );
    assert!(copy_b.join("manifest.json").exists(), "{out}");
    let day2 = answers(&server, &sb, &local);
    assert_ne!(day1, day2, "the second drop changed nothing");
    assert_eq!(answers(&server, &sb, &s3), day2, "day 2 on S3");
    let rows = |cfg: &Path| {
        sb.csv_with(
            &server.env(),
            cfg,
            "select count(*) as n, count(distinct source_file) as files from transactions",
        )
    };
    assert_eq!(rows(&s3), rows(&local));

    // Machine A's working copy is behind (deleted above): a load with nothing new brings it to
    // the published version and publishes nothing.
    let before = server.keys("acme/");
    run(
        &server,
        &sb,
        &["ingest", "--config", s3.to_str().unwrap(), "--no-quality"],
    );
    assert_eq!(server.keys("acme/"), before);
    assert_eq!(
        crate::common::manifest(&copy_a)["version"],
        crate::common::manifest(&copy_b)["version"]
    );
}

#[test]
fn a_load_interrupted_before_its_manifest_leaves_the_previous_warehouse_on_s3() {
    let server = S3Server::start();
    let sb = Sandbox::new();
    let s3 = sample_config(
        &sb,
        "s3.toml",
        &format!("s3://{BUCKET}/acme"),
        "working_copy = \"copy\"",
    );
    let cfg = s3.to_str().unwrap();
    drop_orders(&sb, false);
    run(&server, &sb, &["ingest", "--config", cfg, "--no-quality"]);
    let day1 = answers(&server, &sb, &s3);
    let published = server.keys("acme/");

    drop_orders(&sb, true);
    let err = run_fails(
        &server,
        &sb,
        &["ingest", "--config", cfg, "--no-quality"],
        &[("CRM_FAULT_INJECT", "before-remote-manifest")],
    );
    assert!(err.contains("interrupted"), "{err}");
    // The new files were uploaded, the manifest is the old one: readers see day 1 whole.
    let after = server.keys("acme/");
    assert!(
        after.len() > published.len(),
        "nothing was uploaded: {after:?}"
    );
    assert_eq!(answers(&server, &sb, &s3), day1);

    // The next load publishes day 2 and removes the interrupted load's files.
    let out = run(&server, &sb, &["ingest", "--config", cfg, "--no-quality"]);
    let manifest = crate::common::manifest(&sb.path("sample-data/copy"));
    let named = object_keys(&manifest);
    let now = server.keys("acme/");
    let previous: std::collections::BTreeSet<&String> = published.iter().collect();
    for key in &now {
        assert!(
            key == "acme/manifest.json" || named.contains(key) || previous.contains(key),
            "{key} is left over from the interrupted load\n{out}"
        );
    }
    assert_ne!(answers(&server, &sb, &s3), day1);
}

/// Two machines load from the same published manifest: the one that publishes second fails
/// with the reason, and the warehouse holds the first one's load, whole.
#[test]
fn of_two_loads_from_one_manifest_the_second_to_publish_fails() {
    let server = S3Server::start();
    let sb = Sandbox::new();
    let wh = format!("s3://{BUCKET}/acme");
    let a = sample_config(&sb, "a.toml", &wh, "working_copy = \"copy-a\"");
    let b = sample_config(&sb, "b.toml", &wh, "working_copy = \"copy-b\"");
    drop_orders(&sb, false);
    run(
        &server,
        &sb,
        &["ingest", "--config", a.to_str().unwrap(), "--no-quality"],
    );
    drop_orders(&sb, true);

    // A pauses after its uploads, before its manifest; B loads and publishes meanwhile.
    let go = sb.path("go");
    let mut first = sb.process(&["ingest", "--config", a.to_str().unwrap(), "--no-quality"]);
    for (k, v) in server.env() {
        first.env(k, v);
    }
    let first = first
        .env(
            "CRM_FAULT_INJECT",
            format!("pause-before-remote-manifest:{}", go.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !go.with_extension("paused").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "load A never paused"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run(
        &server,
        &sb,
        &["ingest", "--config", b.to_str().unwrap(), "--no-quality"],
    );
    let published = crate::common::manifest(&sb.path("sample-data/copy-b"));
    std::fs::write(&go, b"").unwrap();
    let out = first.wait_with_output().unwrap();
    assert!(!out.status.success(), "both loads published");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another load committed"), "{err}");

    // What readers get is B's load: the manifest B published, every file it names there.
    let keys = server.keys("acme/");
    for key in object_keys(&published) {
        assert!(keys.contains(&key), "{key} missing");
    }
    let n = sb.csv_with(&server.env(), &a, "select count(*) from transactions");
    let local = sample_config(&sb, "local.toml", "wh-local", "");
    run(
        &server,
        &sb,
        &[
            "ingest",
            "--config",
            local.to_str().unwrap(),
            "--no-quality",
        ],
    );
    assert_eq!(n, sb.csv(&local, "select count(*) from transactions", &[]));
}
