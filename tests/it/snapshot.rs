//! DATA-CONTRACT.md "Snapshot reads" and "Loading is atomic": a reader works on the version it
//! opened whatever a load does meanwhile; a load killed at any point leaves the warehouse as it
//! was before or after, and the next load ends where a clean one does.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

/// The demographic segments, which read the customers table that every load rewrites whole.
const SEGMENTS: &[&str] = &["segment", "--by", "demographic", "--format", "csv"];

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A later export of customer C0000001 with another gender: a load updates the row.
fn change_a_customer(sample: &Path) {
    let path = sample.join("customers.csv");
    // Bytes, not text: the sample carries a line that is not UTF-8 on purpose.
    let mut bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let first = text.lines().nth(1).unwrap().to_string();
    let mut fields: Vec<&str> = first.split(',').collect();
    assert_eq!(fields[0], "C0000001");
    fields[10] = if fields[10] == "M" { "F" } else { "M" };
    assert!(bytes.ends_with(b"\n"));
    bytes.extend_from_slice(format!("{}\n", fields.join(",")).as_bytes());
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn a_report_read_across_a_load_is_the_report_of_the_version_it_opened() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg_s = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg_s, "--no-quality"]);
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a = extra.to_vec();
        a.extend(["--config", cfg_s]);
        a.into_iter().map(String::from).collect()
    };
    let v1 = sb.ok(&with(SEGMENTS)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());

    // A reader opens version 1 and waits at `go` before it plans or reads anything.
    let go = sb.path("go");
    let args = with(SEGMENTS);
    let reader = sb
        .process(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env("CRM_TEST_PAUSE_AFTER_OPEN", &go)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&go.with_extension("opened"));

    // Meanwhile a load replaces the customers table (version 2) and clears old files.
    change_a_customer(&sb.path("sample-data"));
    let out = sb.ok(&["ingest", "--config", cfg_s, "--no-quality"]);
    assert!(out.contains("warehouse version 2"), "{out}");
    let v2 = sb.ok(&with(SEGMENTS)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_ne!(
        v1, v2,
        "the load must change the answer, or this test proves nothing"
    );

    std::fs::write(&go, b"").unwrap();
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), v1);

    // The reader gone, the next load removes the version-1 files it kept alive.
    let customers = |dir: &Path| {
        std::fs::read_dir(dir.join("data/customers"))
            .unwrap()
            .count()
    };
    let wh = sb.path("target/sample-warehouse");
    assert_eq!(customers(&wh), 2);
    sb.ok(&["ingest", "--config", cfg_s, "--no-quality"]);
    assert_eq!(customers(&wh), 1);
    assert_eq!(std::fs::read_dir(wh.join("leases")).unwrap().count(), 0);
}

/// What a reader sees of a warehouse: its version and the rows of every table.
fn state(sb: &Sandbox, cfg: &Path) -> (u64, Vec<Vec<String>>) {
    let version = if cfg.parent().unwrap().join("wh/manifest.json").exists() {
        manifest(&cfg.parent().unwrap().join("wh"))["version"]
            .as_u64()
            .unwrap()
    } else {
        0
    };
    if version == 0 {
        return (0, Vec::new());
    }
    let rows = sb.csv(
        cfg,
        "select (select count(*) from customers) c, (select count(*) from transactions) t, \
         (select sum(amount) from transactions) a, (select count(*) from interactions) i, \
         (select count(*) from rejects) r",
        &[],
    );
    (version, rows)
}

#[test]
fn an_ingest_killed_at_20_random_points_leaves_the_warehouse_before_or_after() {
    let sb = Sandbox::new();
    sb.with_sample();
    let sample = sb.path("sample-data");
    // Version 1: customers and orders; the killed load adds the interactions and a customer
    // update, so before and after differ in every table.
    let cfg = sb.write(
        "crm.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n\
             [sources.customers]\npath = {:?}\ndate_format = \"%d/%m/%Y\"\n\
             [sources.customers.columns]\ncustomer_id = \"Customer ID\"\ngender = \"Gender\"\n\
             [sources.transactions]\npath = {:?}\ndelimiter = \";\"\ntimestamp_format = \"%d.%m.%Y %H:%M\"\n\
             [sources.transactions.columns]\ntransaction_id = \"Line ID\"\norder_id = \"Order ID\"\ncustomer_id = \"Customer ID\"\nts = \"Order Date\"\namount = \"Total\"\n",
            sample.join("customers.csv"),
            sample.join("orders.csv.gz"),
        ),
    );
    let cfg_s = cfg.to_str().unwrap().to_string();
    sb.ok(&["ingest", "--config", &cfg_s, "--no-quality"]);
    let before = state(&sb, &cfg);
    assert_eq!(before.0, 1);
    let pristine = sb.path("wh-v1");
    copy_dir(&sb.path("wh"), &pristine);

    let second = std::fs::read_to_string(&cfg).unwrap()
        + &format!(
            "[sources.interactions]\npath = {:?}\n[sources.interactions.columns]\ninteraction_id = \"event_id\"\ncustomer_id = \"contact_id\"\nts = \"occurred_at\"\nchannel = \"medium\"\nkind = \"type\"\n",
            sample.join("interactions.jsonl.gz")
        );
    change_a_customer(&sample);
    std::fs::write(&cfg, &second).unwrap();

    // A clean version 2, and how long its load takes.
    let started = Instant::now();
    sb.ok(&["ingest", "--config", &cfg_s, "--no-quality"]);
    let full = started.elapsed();
    let after = state(&sb, &cfg);
    assert_eq!(after.0, 2);
    assert_ne!(before.1, after.1);

    // Kill points spread over the load's whole time, in a fixed pseudo-random order.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut outcomes = (0, 0);
    for _ in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = full.mul_f64((seed % 1000) as f64 / 1000.0);
        std::fs::remove_dir_all(sb.path("wh")).unwrap();
        copy_dir(&pristine, &sb.path("wh"));
        let mut child = sb
            .process(&["ingest", "--config", &cfg_s, "--no-quality"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let seen = state(&sb, &cfg);
        if seen == before {
            outcomes.0 += 1;
        } else {
            assert_eq!(seen, after, "killed after {at:?}: neither before nor after");
            outcomes.1 += 1;
        }
        // The next load finishes what the killed one did not, as a clean load would.
        sb.ok(&["ingest", "--config", &cfg_s, "--no-quality"]);
        assert_eq!(state(&sb, &cfg), after, "killed after {at:?}");
    }
    // Most kill points fall inside the load, before its commit.
    assert!(outcomes.0 > 0, "{outcomes:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}
