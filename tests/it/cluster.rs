//! Cluster runs: a real Ballista scheduler and two executors (`crm scheduler`, `crm executor`,
//! the binary under test, on free localhost ports), and every analysis the issue names gives
//! exactly the answer of a local run, on the sample and on CDNOW. The processes are killed when
//! the test ends, failed or not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scheduler and `executors` executors; killed on drop.
struct Cluster {
    children: Vec<Child>,
    logs: tempfile::TempDir,
    port: u16,
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    fn start(executors: usize) -> Cluster {
        Cluster::start_with(executors, Vec::new())
    }

    /// A cluster whose processes have `env` (the object storage a warehouse is on).
    fn start_with(executors: usize, env: Vec<(&'static str, String)>) -> Cluster {
        let logs = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cluster = Cluster {
            children: Vec::new(),
            logs,
            port,
            env,
        };
        cluster.spawn("scheduler", &["scheduler", "--port", &port.to_string()]);
        cluster.wait_for(&[port]);
        for i in 0..executors {
            // Two ports each: the flight port and the one after it (the task service).
            let flight = loop {
                let p = free_port();
                if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                    break p;
                }
            };
            cluster.spawn(
                &format!("executor{i}"),
                &[
                    "executor",
                    "--scheduler",
                    &format!("127.0.0.1:{port}"),
                    "--port",
                    &flight.to_string(),
                    "--concurrency",
                    "2",
                ],
            );
        }
        // Every executor registered with the scheduler.
        let start = Instant::now();
        while cluster
            .log("scheduler")
            .matches("register executor request")
            .count()
            < executors
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "executors did not register:\n{}",
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.logs.path().join(name)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_crm"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start a cluster process");
        self.children.push(child);
    }

    fn wait_for(&self, ports: &[u16]) {
        let start = Instant::now();
        for port in ports {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "nothing listens on {port}:\n{}",
                    self.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.path().join(name)).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(self.logs.path()).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("== {}\n", p.display()));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `crm ARGS --format csv` locally and on the cluster: the same bytes.
fn same_on_cluster(sb: &Sandbox, cluster: &Cluster, cfg: &Path, args: &[&str]) -> String {
    let mut local = args.to_vec();
    local.extend(["--config", cfg.to_str().unwrap(), "--format", "csv"]);
    let here = sb.ok(&local);
    let url = cluster.url();
    let mut remote = local.clone();
    remote.extend(["--cluster", url.as_str()]);
    let out = sb
        .cmd(&remote)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        describe(&remote, &out),
        cluster.logs()
    );
    let there = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        here == there,
        "{args:?} differs on the cluster:\nlocal:\n{here}\ncluster:\n{there}"
    );
    assert!(here.lines().count() > 1, "{args:?} gave no rows: {here}");
    here
}

const ANALYSES: [&[&str]; 19] = [
    &["rfm"],
    &["segment", "--by", "rfm"],
    &["segment", "--by", "demographic"],
    &["segment", "--by", "geographic"],
    &["segment", "--by", "behavioural"],
    &["retention"],
    &["retention", "--cohorts"],
    &["retention", "--growth"],
    &["lifecycle"],
    &["interactions", "--table", "channel_mix"],
    &["interactions", "--table", "interactions_per_customer"],
    &["interactions", "--table", "campaign_conversion"],
    &["service", "--table", "service_summary"],
    &["service", "--table", "service_tickets"],
    &["service", "--table", "satisfaction"],
    &["service", "--table", "satisfaction_by_segment"],
    &["affinity", "--table", "category_affinity"],
    &["affinity", "--table", "next_category"],
    &["affinity", "--table", "region_category_growth"],
];

#[test]
fn a_cluster_of_two_executors_gives_the_local_answers_on_the_sample_and_on_cdnow() {
    let cluster = Cluster::start(2);
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["ingest", "--config", cfg.to_str().unwrap(), "--no-quality"]);
    for args in ANALYSES {
        same_on_cluster(&sb, &cluster, &cfg, args);
    }
    // The executors did the work: each ran tasks.
    for i in 0..2 {
        assert!(
            cluster
                .log(&format!("executor{i}"))
                .contains("Finished task"),
            "executor{i} ran no task:\n{}",
            cluster.logs()
        );
    }

    let cdnow_cfg: PathBuf = sb.write(
        "cdnow.toml",
        &format!(
            "[warehouse]\npath = \"wh-cdnow\"\n[sources.transactions]\npath = {:?}\n[sources.transactions.columns]\nts = \"date\"\n",
            cdnow("cdnow_master.csv").to_str().unwrap()
        ),
    );
    sb.ok(&[
        "ingest",
        "--config",
        cdnow_cfg.to_str().unwrap(),
        "--no-quality",
    ]);
    for args in [
        &["rfm", "--as-of", "1998-07-01"][..],
        &["retention", "--cohorts", "--as-of", "1998-07-01"],
    ] {
        same_on_cluster(&sb, &cluster, &cdnow_cfg, args);
    }
}

/// A scheduler nobody runs: the command fails at once, naming the address.
#[test]
fn an_unreachable_scheduler_fails_at_once_with_its_address() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["ingest", "--config", cfg.to_str().unwrap(), "--no-quality"]);
    let port = free_port();
    let url = format!("df://127.0.0.1:{port}");
    let start = Instant::now();
    let err = sb.fails(&["rfm", "--config", cfg.to_str().unwrap(), "--cluster", &url]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains(&url) && err.contains("cannot reach the Ballista scheduler"),
        "{err}"
    );
    let err = sb.fails(&[
        "rfm",
        "--config",
        cfg.to_str().unwrap(),
        "--cluster",
        "http://x:1",
    ]);
    assert!(err.contains("df://HOST:PORT"), "{err}");
}

/// An executor killed while a query runs: the query completes with the local answer (Ballista
/// runs the lost work again on the other executor) or fails naming the cluster. Never a wrong
/// answer, never a hang.
#[test]
fn an_executor_killed_mid_query_never_gives_a_wrong_answer() {
    let mut cluster = Cluster::start(2);
    let sb = Sandbox::new();
    let cfg = sb.write(
        "cdnow.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\n[sources.transactions.columns]\nts = \"date\"\n",
            cdnow("cdnow_master.csv").to_str().unwrap()
        ),
    );
    sb.ok(&["ingest", "--config", cfg.to_str().unwrap(), "--no-quality"]);
    let args = [
        "retention",
        "--cohorts",
        "--as-of",
        "1998-07-01",
        "--format",
        "csv",
        "--config",
        cfg.to_str().unwrap(),
    ];
    let local = sb.ok(&args);
    let tasks = |c: &Cluster| {
        (0..2)
            .map(|i| {
                c.log(&format!("executor{i}"))
                    .matches("Finished task")
                    .count()
            })
            .sum::<usize>()
    };
    let before = tasks(&cluster);
    let url = cluster.url();
    let mut remote = args.to_vec();
    remote.extend(["--cluster", url.as_str()]);
    let query = sb
        .process(&remote)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first task of the query done: kill the second executor (the scheduler is child 0).
    let start = Instant::now();
    while tasks(&cluster) == before && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.children[2].kill().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(query.wait_with_output()));
    let out = rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the query hung after an executor was killed")
        .unwrap();
    if out.status.success() {
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            local,
            "a wrong answer"
        );
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&url),
            "the error does not name the cluster: {err}"
        );
        assert!(out.stdout.is_empty(), "a failed query printed rows");
    }
}

/// The nightly batch on the cluster writes the tables, charts and report of a local run: every
/// CSV, SVG, PNG and report.html byte for byte (the Parquet copies hold the same rows; their
/// bytes carry the engine's column encodings, and summary.json the timings).
#[test]
fn crm_run_on_the_cluster_writes_the_local_nightly_folder() {
    let cluster = Cluster::start(2);
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["run", "--config", cfg, "--out", "local"]);
    let url = cluster.url();
    let out = sb
        .cmd(&["run", "--config", cfg, "--out", "remote", "--cluster", &url])
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        describe(&["run"], &out),
        cluster.logs()
    );
    let day = std::fs::read_dir(sb.path("local"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .find(|n| n.to_string_lossy().starts_with("20"))
        .expect("a dated folder");
    let (local, remote) = (sb.path("local").join(&day), sb.path("remote").join(&day));
    let mut compared = 0;
    for e in std::fs::read_dir(&local).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".parquet") || name == "summary.json" || p.is_dir() {
            continue;
        }
        let there = std::fs::read(remote.join(&name)).unwrap_or_default();
        assert!(
            std::fs::read(&p).unwrap() == there,
            "{name} differs on the cluster"
        );
        compared += 1;
    }
    assert!(compared > 40, "only {compared} files compared");
}

/// A warehouse on S3 (a real S3 protocol server), read by the executors: the answers of a local
/// warehouse loaded from the same exports.
#[test]
fn a_cluster_reads_a_warehouse_on_s3() {
    use crate::s3::{BUCKET, S3Server, drop_orders, on, sample_config};
    let server = S3Server::start();
    let cluster = Cluster::start_with(2, server.env());
    let sb = Sandbox::new();
    let local = sample_config(&sb, "local.toml", "wh-local", "");
    let s3 = sample_config(
        &sb,
        "s3.toml",
        &format!("s3://{BUCKET}/acme"),
        "working_copy = \"copy\"",
    );
    drop_orders(&sb, false);
    drop_orders(&sb, true);
    for cfg in [&local, &s3] {
        let args = ["ingest", "--config", cfg.to_str().unwrap(), "--no-quality"];
        let out = on(&server, sb.cmd(&args)).output().unwrap();
        assert!(out.status.success(), "{}", describe(&args, &out));
    }
    std::fs::remove_dir_all(sb.path("sample-data/copy")).unwrap();
    let url = cluster.url();
    for analysis in [
        &["rfm"][..],
        &["segment", "--by", "rfm"],
        &["retention", "--cohorts"],
        &["lifecycle"],
        &["affinity", "--table", "category_affinity"],
    ] {
        let mut args = analysis.to_vec();
        args.extend(["--format", "csv", "--config"]);
        let mut here = args.clone();
        here.push(local.to_str().unwrap());
        let expected = sb.ok(&here);
        let mut there = args.clone();
        there.extend([s3.to_str().unwrap(), "--cluster", url.as_str()]);
        let out = on(&server, sb.cmd(&there))
            .timeout(Duration::from_secs(300))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            describe(&there, &out),
            cluster.logs()
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "{analysis:?}"
        );
    }
}
