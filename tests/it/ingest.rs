//! Ingest as DATA-CONTRACT.md states it: counts add up, bad rows are kept with reasons, loads are
//! idempotent and atomic.

use crate::common::*;

fn file_stats(m: &serde_json::Value) -> Vec<serde_json::Value> {
    m["loads"].as_array().unwrap().last().unwrap()["files"]
        .as_array()
        .unwrap()
        .clone()
}

fn records_in_export(path: &std::path::Path) -> u64 {
    use std::io::Read;
    let mut text = Vec::new();
    let f = std::fs::File::open(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::MultiGzDecoder::new(f)
            .read_to_end(&mut text)
            .unwrap();
    } else {
        std::io::BufReader::new(f).read_to_end(&mut text).unwrap();
    }
    let lines = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let is_csv = path.to_string_lossy().contains(".csv");
    if is_csv { lines - 1 } else { lines }
}

#[test]
fn sample_read_equals_loaded_plus_rejected_plus_duplicates_for_every_file() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let out = sb.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
    let m = manifest(&sb.path("target/sample-warehouse"));
    let files = file_stats(&m);
    assert_eq!(files.len(), 3);
    let mut total_rejected = 0;
    for f in &files {
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("read"),
            n("loaded") + n("rejected") + n("duplicates"),
            "{f}"
        );
        // Every record of the export was read: nothing lost on the way in.
        let export = std::path::PathBuf::from(f["path"].as_str().unwrap());
        let export = if export.is_absolute() {
            export
        } else {
            sb.dir.path().join(export)
        };
        assert_eq!(n("read"), records_in_export(&export), "{f}");
        // The shipped sample carries deliberately bad rows in every file.
        assert!(n("rejected") > 0, "{f}");
        total_rejected += n("rejected");
        let line = format!(
            "{}: read {} = loaded {} + rejected {} + duplicates {}",
            f["source"].as_str().unwrap(),
            n("read"),
            n("loaded"),
            n("rejected"),
            n("duplicates")
        );
        assert!(out.contains(&line), "summary lacks {line:?}\n{out}");
        // The table holds exactly what was loaded.
        let table = f["table"].as_str().unwrap();
        let rows = sb.csv(&cfg, &format!("select count(*) as n from {table}"), &[]);
        assert_eq!(rows[1][0].parse::<u64>().unwrap(), n("loaded"), "{table}");
    }
    // Every rejected record is in the rejects table with its file, record number and raw text.
    let rows = sb.csv(
        &cfg,
        "select count(*), count(distinct source_file), min(record_number), sum(case when raw_record = '' then 1 else 0 end) from rejects where not kept",
        &[],
    );
    assert_eq!(rows[1][0].parse::<u64>().unwrap(), total_rejected);
    assert_eq!(rows[1][1], "3");
    assert!(
        rows[1][2].parse::<u64>().unwrap() >= 2,
        "line 1 is the header"
    );
    assert_eq!(rows[1][3], "0", "every reject keeps its raw record");
    let reasons = sb.csv(&cfg, "select distinct \"table\", reason from rejects", &[]);
    let has = |table: &str, prefix: &str| {
        reasons
            .iter()
            .any(|r| r[0] == table && r[1].starts_with(prefix))
    };
    assert!(has("transactions", "wrong field count"));
    assert!(has("transactions", "unparsable date in ts"));
    assert!(has("transactions", "unparsable number in amount"));
    assert!(has("transactions", "missing required field customer_id"));
    assert!(has("interactions", "invalid value in channel"));
    assert!(has("interactions", "invalid JSON"));
    assert!(has("customers", "non-UTF-8 bytes"), "flagged and kept");
}

#[test]
fn second_ingest_of_the_same_exports_changes_nothing() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg]);
    let wh = sb.path("target/sample-warehouse");
    let before = manifest(&wh);
    let count = |sb: &Sandbox| {
        sb.csv(std::path::Path::new(cfg), "select (select count(*) from transactions) as t, (select count(*) from customers) as c, (select count(*) from interactions) as i, (select count(*) from rejects) as r", &[])
    };
    let counts = count(&sb);

    // Unchanged exports are skipped...
    // (the CSV, the gzipped CSV and the gzipped JSON lines: each hashed as the first load
    // read it, each hashed before it is read on the second).
    let out = sb.ok(&["ingest", "--config", cfg]);
    assert_eq!(out.matches("unchanged, skipped").count(), 3, "{out}");
    assert_eq!(manifest(&wh), before);

    // ...and read again with --force, every record is a duplicate or the same reject.
    let out = sb.ok(&["ingest", "--config", cfg, "--force"]);
    assert!(
        out.contains("nothing new: warehouse unchanged at version 1"),
        "{out}"
    );
    assert_eq!(manifest(&wh), before);
    assert_eq!(count(&sb), counts);
    let first = file_stats(&before);
    for f in &first {
        let source = f["source"].as_str().unwrap();
        let loaded = f["loaded"].as_u64().unwrap();
        let dups = f["duplicates"].as_u64().unwrap();
        let rejected = f["rejected"].as_u64().unwrap();
        let line = format!(
            "{source}: read {} = loaded 0 + rejected {rejected} + duplicates {}",
            loaded + rejected + dups,
            loaded + dups
        );
        assert!(out.contains(&line), "expected {line:?} in\n{out}");
    }
}

/// A new warehouse hashes records with xxh3; one started by an older build (format 2, no
/// `record_hash` in its manifest) keeps blake3, so that its stored hashes still match: the same
/// exports loaded again are duplicates, not changed records.
#[test]
fn a_warehouse_keeps_the_record_hash_it_started_with() {
    let hashes = |sb: &Sandbox, cfg: &std::path::Path| {
        sb.csv(
            cfg,
            "select transaction_id, record_hash from transactions order by transaction_id limit 20",
            &[],
        )
    };
    let new = Sandbox::new();
    let cfg = new.with_sample();
    new.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
    let m = manifest(&new.path("target/sample-warehouse"));
    assert_eq!(m["record_hash"], "xxh3");
    assert_eq!(m["format"], 3);
    let new_hashes = hashes(&new, &cfg);

    let old = Sandbox::new();
    let cfg = old.with_sample();
    old.write(
        "target/sample-warehouse/manifest.json",
        r#"{"format": 2, "version": 0, "updated_at": "", "tables": {}, "sources": {}, "loads": []}"#,
    );
    let c = cfg.to_str().unwrap();
    old.ok(&["ingest", "--config", c]);
    let wh = old.path("target/sample-warehouse");
    let before = manifest(&wh);
    assert_eq!(before["record_hash"], "blake3");
    let old_hashes = hashes(&old, &cfg);
    assert_eq!(old_hashes.len(), 21);
    for (n, o) in new_hashes[1..].iter().zip(&old_hashes[1..]) {
        assert_eq!(n[0], o[0]);
        assert_ne!(
            n[1], o[1],
            "the same hash for {} under both functions",
            n[0]
        );
    }
    let out = old.ok(&["ingest", "--config", c, "--force"]);
    assert!(
        out.contains("nothing new: warehouse unchanged at version 1"),
        "{out}"
    );
    assert_eq!(manifest(&wh), before);
}

#[test]
fn an_interrupted_load_leaves_the_previous_warehouse_whole_and_the_next_run_cleans_up() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01,10\nt2,c2,2024-01-02,20\n",
    );
    sb.ok(&["ingest"]);
    let wh = sb.path("wh");
    let before = manifest(&wh);

    sb.write("t.csv", "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01,10\nt2,c2,2024-01-02,20\nt3,c3,2024-01-03,30\n");
    let out = sb
        .cmd(&["ingest"])
        .env("CRM_FAULT_INJECT", "before-manifest-swap")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", describe(&["ingest"], &out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    // The new files were written (the transactions and the new customer's key), but the
    // manifest still names the old ones only.
    let parquet_files = files_under(&wh.join("data"));
    assert_eq!(parquet_files.len(), 4, "{parquet_files:?}");
    assert_eq!(manifest(&wh), before);
    let rows = sb.csv(&cfg, "select count(*), sum(amount) from transactions", &[]);
    assert_eq!(rows[1], ["2", "30.0"]);

    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("removed 2 files left by an interrupted load"),
        "{out}"
    );
    assert!(
        out.contains("transactions: read 3 = loaded 1 + rejected 0 + duplicates 2"),
        "{out}"
    );
    let rows = sb.csv(&cfg, "select count(*), sum(amount) from transactions", &[]);
    assert_eq!(rows[1], ["3", "60.0"]);
    let keys = sb.csv(
        &cfg,
        "select customer_id, customer_key from customer_keys order by 2",
        &[],
    );
    assert_eq!(keys[1..], [["c1", "1"], ["c2", "2"], ["c3", "3"]]);
}

#[test]
fn bad_records_get_a_reason_a_line_number_and_their_raw_text() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.orders]\ntable = \"transactions\"\npath = \"orders.csv\"\ndelimiter = \";\"\nmax_reject_rate = 1.0\n\
         [sources.orders.columns]\ntransaction_id = \"Id\"\ncustomer_id = \"Client\"\nts = \"When\"\namount = \"Total\"\n",
    );
    let mut text = b"Id;Client;When;Total;Note\n".to_vec();
    text.extend_from_slice(b"t1;c1;2024-01-01 10:00;10.5;ok\n"); // line 2: loaded
    text.extend_from_slice(b"t2;c1;2024-02-30;3;bad date\n"); // line 3
    text.extend_from_slice(b"t3;c2;2024-01-02;1O.00;bad number\n"); // line 4
    text.extend_from_slice(b"t4;;2024-01-02;1;no customer\n"); // line 5
    text.extend_from_slice(b"t5;c3;2024-01-02\n"); // line 6: ragged
    text.extend_from_slice(b"t1;c1;2024-01-01 10:00;10.5;ok\n"); // line 7: exact duplicate
    text.extend_from_slice(b"t1;c1;2024-01-01 10:00;99;changed\n"); // line 8: same id, other content
    text.extend_from_slice(b"t6;c\xe9;2024-01-03;5;latin-1\n"); // line 9: loaded, flagged
    text.extend_from_slice(b"t7;c4;\"2024-01-04\";\"7\";\"a;quoted\nnote\"\n"); // lines 10-11: loaded
    std::fs::write(sb.path("orders.csv"), &text).unwrap();
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("orders: read 9 = loaded 3 + rejected 5 + duplicates 1"),
        "{out}"
    );

    let rows = sb.csv(
        &cfg,
        "select record_number, reason, raw_record, kept from rejects order by record_number",
        &[],
    );
    let expected = [
        [
            "3",
            "unparsable date in ts: \"2024-02-30\"",
            "t2;c1;2024-02-30;3;bad date",
            "false",
        ],
        [
            "4",
            "unparsable number in amount: \"1O.00\"",
            "t3;c2;2024-01-02;1O.00;bad number",
            "false",
        ],
        [
            "5",
            "missing required field customer_id",
            "t4;;2024-01-02;1;no customer",
            "false",
        ],
        [
            "6",
            "wrong field count: expected 5, found 3",
            "t5;c3;2024-01-02",
            "false",
        ],
        [
            "8",
            "duplicate transaction_id \"t1\" with different content",
            "t1;c1;2024-01-01 10:00;99;changed",
            "false",
        ],
        [
            "9",
            "non-UTF-8 bytes, decoded lossily",
            "t6;c\u{fffd};2024-01-03;5;latin-1",
            "true",
        ],
    ];
    assert_eq!(rows.len(), expected.len() + 1, "{rows:?}");
    for (row, exp) in rows[1..].iter().zip(expected) {
        assert_eq!(row, &exp.map(str::to_string).to_vec());
    }
    // Extra columns are kept as attributes; the quoted field with a delimiter and a newline survives.
    let rows = sb.csv(
        &cfg,
        "select transaction_id, attributes from transactions order by transaction_id",
        &[],
    );
    assert_eq!(rows[1], ["t1", "{\"Note\":\"ok\"}"]);
    assert_eq!(rows[3], ["t7", "{\"Note\":\"a;quoted\\nnote\"}"]);
}

#[test]
fn an_export_without_a_required_column_is_an_error_naming_file_and_column() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[sources.transactions]\npath = \"t.csv\"\n[sources.transactions.columns]\namount = \"Total\"\n",
    );
    sb.write("t.csv", "customer_id,ts,Amount\nc1,2024-01-01,3\n");
    let err = sb.fails(&["ingest"]);
    assert!(err.contains("t.csv"), "{err}");
    assert!(err.contains("amount (mapped from \"Total\")"), "{err}");
    assert!(!sb.path("warehouse/manifest.json").exists());

    let err = sb.fails(&["ingest", "--config", "nope.toml"]);
    assert!(err.contains("nope.toml"), "{err}");
    sb.write(
        "bad.toml",
        "[sources.transactions]\npath = \"missing.csv\"\n",
    );
    let err = sb.fails(&["ingest", "--config", "bad.toml"]);
    assert!(
        err.contains("missing.csv") && err.contains("not found"),
        "{err}"
    );
    sb.write("typo.toml", "[warehouse]\npaht = \"w\"\n");
    let err = sb.fails(&["ingest", "--config", "typo.toml"]);
    assert!(err.contains("paht"), "{err}");
}

#[test]
fn overlapping_exports_add_only_new_ids_and_later_customer_exports_update_rows() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.customers]\npath = \"c.csv\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write(
        "c.csv",
        "customer_id,country,loyalty_tier\nc1,DE,Gold\nc2,FR,\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01,10\nt2,c2,2024-01-02,20\n",
    );
    sb.ok(&["ingest"]);
    sb.write(
        "c.csv",
        "customer_id,country,loyalty_tier\nc2,FR,Silver\nc3,NL,\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt2,c2,2024-01-02,20\nt3,c3,2024-01-03,30\n",
    );
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("transactions: read 2 = loaded 1 + rejected 0 + duplicates 1"),
        "{out}"
    );
    assert!(
        out.contains("customers: read 2 = loaded 2 + rejected 0 + duplicates 0"),
        "{out}"
    );
    let rows = sb.csv(
        &cfg,
        "select customer_id, country, loyalty_tier from customers order by customer_id",
        &[],
    );
    assert_eq!(
        rows[1..],
        [
            vec!["c1", "DE", "Gold"],
            vec!["c2", "FR", "Silver"],
            vec!["c3", "NL", ""]
        ]
    );
    let rows = sb.csv(&cfg, "select count(*) from transactions", &[]);
    assert_eq!(rows[1][0], "3");
}

#[test]
fn json_lines_and_parquet_exports_load_like_csv() {
    let sb = Sandbox::new();
    sb.write(
        "a.toml",
        "[warehouse]\npath = \"wa\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write("t.csv", "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01T10:00:00+02:00,10\nt2,c2,2024-01-02,20\n");
    sb.ok(&["ingest", "--config", "a.toml"]);
    // The warehouse's own rows, exported as Parquet, are an export like any other.
    sb.ok(&[
        "query",
        "--config",
        "a.toml",
        "--sql",
        "select transaction_id, customer_id, ts, amount from transactions",
        "--format",
        "parquet",
        "--out",
        "export.parquet",
    ]);
    sb.write("i.jsonl", "{\"id\": \"e1\", \"who\": \"c1\", \"at\": \"2024-01-01T09:00:00Z\", \"channel\": \"Email\", \"kind\": \"campaign_sent\"}\n\
        {\"id\": \"e2\", \"who\": \"c1\", \"at\": \"2024-01-02T09:00:00Z\", \"channel\": \"Chat\", \"kind\": \"survey\", \"csat\": 4, \"extra\": {\"x\": 1}}\n\
        [1, 2]\n");
    let cfg = sb.write(
        "b.toml",
        "[warehouse]\npath = \"wb\"\n[sources.transactions]\npath = \"export.parquet\"\n\
         [sources.interactions]\npath = \"i.jsonl\"\nmax_reject_rate = 1.0\n[sources.interactions.columns]\ninteraction_id = \"id\"\ncustomer_id = \"who\"\nts = \"at\"\n",
    );
    let out = sb.ok(&["ingest", "--config", "b.toml"]);
    assert!(
        out.contains("transactions: read 2 = loaded 2 + rejected 0 + duplicates 0"),
        "{out}"
    );
    assert!(
        out.contains("interactions: read 3 = loaded 2 + rejected 1 + duplicates 0"),
        "{out}"
    );
    let rows = sb.csv(
        &cfg,
        "select transaction_id, cast(ts as varchar), amount from transactions order by 1",
        &[],
    );
    assert_eq!(rows[1], ["t1", "2024-01-01T08:00:00Z", "10.0"]);
    let rows = sb.csv(
        &cfg,
        "select interaction_id, channel, kind, csat, attributes from interactions order by 1",
        &[],
    );
    assert_eq!(
        rows[2],
        ["e2", "chat", "survey", "4", "{\"extra\":\"{\\\"x\\\":1}\"}"]
    );
    let rows = sb.csv(&cfg, "select reason from rejects", &[]);
    assert_eq!(rows[1], ["not a JSON object"]);
}

#[test]
fn personal_fields_are_pseudonymised_with_a_key_from_the_environment() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[privacy]\npseudonymize = [\"email\", \"name\", \"Mobile\"]\n\
         [sources.customers]\npath = \"c.csv\"\nmax_reject_rate = 1.0\n",
    );
    sb.write(
        "c.csv",
        "customer_id,email,name,Mobile\nc1,Ann@Example.com,Ann Lee,+44 1\nc2,ann@example.com ,Bo,\nc3,carl@example.com,Carl,+1 2,extra\n",
    );
    let err = sb.fails(&["ingest"]);
    assert!(err.contains("CRM_PSEUDONYM_KEY"), "{err}");

    let out = sb
        .cmd(&["ingest"])
        .env("CRM_PSEUDONYM_KEY", "a-test-key-of-some-length")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&["ingest"], &out));
    let rows = sb.csv(
        &cfg,
        "select customer_id, email, name, attributes from customers order by customer_id",
        &[],
    );
    let (a, b) = (&rows[1], &rows[2]);
    assert!(a[1].starts_with("ps_") && a[2].starts_with("ps_"), "{a:?}");
    assert_eq!(a[1], b[1], "the same address, written differently, joins");
    assert!(a[3].contains("\"Mobile\":\"ps_"), "{a:?}");
    // A rejected record keeps its fields, but not the personal ones in clear. A ragged line's
    // fields are not where its header says (an extra comma shifts them), so every one of its
    // fields is hashed: the record is still counted, located and joinable, never readable.
    let rows = sb.csv(
        &cfg,
        "select reason, raw_record, record_number from rejects",
        &[],
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1][0].starts_with("wrong field count"), "{rows:?}");
    assert_eq!(rows[1][2], "4");
    let raw: serde_json::Value = serde_json::from_str(&rows[1][1]).unwrap();
    let fields = raw["unreadable_record_fields"]
        .as_array()
        .expect("hashed fields");
    assert_eq!(fields.len(), 5, "{raw}");
    assert!(
        fields
            .iter()
            .all(|f| f.as_str().unwrap().starts_with("ps_")),
        "{raw}"
    );
    assert!(!rows[1][1].to_lowercase().contains("carl"), "{rows:?}");
}

/// DATA-CONTRACT.md (bad input, ids): a CSV export is parsed in parallel chunks cut at record
/// boundaries. Cut into chunks of a few records, a file with every hard case loads exactly as it
/// does read in one piece: quoted delimiters and newlines, escaped quotes, an inch mark in an
/// unquoted field (which stops the quote-counting cutter and hands over to csv-core), CRLF line
/// ends, blank lines, rejects, exact duplicates far apart, a reused id with other content, and
/// derived ids for identical id-less records (their occurrence numbers run across chunks).
#[test]
fn a_csv_cut_into_many_chunks_loads_exactly_as_read_in_one_piece() {
    let mut text = b"Id;Client;When;Total;Note\n".to_vec();
    for i in 0..400 {
        let line: Vec<u8> = match i % 20 {
            0 => format!(
                "t{i};c{};2024-01-{:02} 10:00;{}.5;\"multi\nline; note\"\n",
                i % 7,
                i % 28 + 1,
                i
            )
            .into(),
            1 => b";c1;2024-02-01;9.99;same every time\n".to_vec(), // derived id, repeated
            2 => format!("t{i};c2;2024-03-01;3;\"say \"\"hi\"\"\"\r\n").into(),
            3 if i > 200 => b"t2;c2;2024-03-01;3;\"say \"\"hi\"\"\"\n".to_vec(), // exact duplicate of i = 2
            4 => format!("t{i};c3;not a date;3;bad\n").into(),
            5 if i > 300 => b"t5;c9;2024-04-01;1;other content\n".to_vec(), // reused id
            6 => format!("t{i};c4;2024-05-01;1\n").into(),                  // ragged
            7 => b"\n".to_vec(),
            8 => format!("t{i};c5;2024-06-01;4;12\" screen, \"matte\"\n").into(), // stray quotes
            9 => [format!("t{i};c").as_bytes(), b"\xe9;2024-06-02;5;latin-1\n"].concat(),
            _ => format!(
                "t{i};c{};2024-0{}-1{} 08:30;{}.25;n{i}\n",
                i % 11,
                i % 9 + 1,
                i % 10,
                i % 50
            )
            .into(),
        };
        text.extend_from_slice(&line);
    }
    let load = |chunk: Option<&str>| {
        let sb = Sandbox::new();
        let cfg = sb.write(
            "crm.toml",
            "[warehouse]\npath = \"wh\"\n[sources.orders]\ntable = \"transactions\"\npath = \"orders.csv\"\ndelimiter = \";\"\nmax_reject_rate = 1.0\n\
             [sources.orders.columns]\ntransaction_id = \"Id\"\ncustomer_id = \"Client\"\nts = \"When\"\namount = \"Total\"\n",
        );
        std::fs::write(sb.path("orders.csv"), &text).unwrap();
        let mut cmd = sb.cmd(&["ingest"]);
        if let Some(c) = chunk {
            cmd.env("CRM_INGEST_CHUNK_BYTES", c);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8(out.stdout).unwrap();
        let rows = sb.csv(
            &cfg,
            "select * exclude (source_file) from transactions order by source_record",
            &[],
        );
        let rejects = sb.csv(
            &cfg,
            "select record_number, reason, raw_record, kept from rejects order by record_number, reason",
            &[],
        );
        (summary, rows, rejects)
    };
    let (one_summary, one_rows, one_rejects) = load(None);
    let (many_summary, many_rows, many_rejects) = load(Some("64"));
    let counts = |s: &str| {
        s.lines()
            .find(|l| l.contains("orders: read"))
            .map(str::to_string)
    };
    assert_eq!(counts(&one_summary), counts(&many_summary));
    assert_eq!(one_rows, many_rows);
    assert_eq!(one_rejects, many_rejects);

    // And what one piece loads is right, not just the same: 400 lines less 20 blank ones;
    // rejected: 20 bad dates, 20 ragged, 5 reused ids; 10 exact duplicates of t2.
    assert!(
        one_summary.contains("orders: read 380 = loaded 325 + rejected 45 + duplicates 10"),
        "{one_summary}"
    );
    let header = &one_rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let note = |id: &str| {
        one_rows
            .iter()
            .find(|r| r[col("transaction_id")] == id)
            .map(|r| r[col("attributes")].clone())
    };
    assert_eq!(note("t0").unwrap(), "{\"Note\":\"multi\\nline; note\"}");
    assert_eq!(
        note("t8").unwrap(),
        "{\"Note\":\"12\\\" screen, \\\"matte\\\"\"}"
    );
    assert_eq!(note("t2").unwrap(), "{\"Note\":\"say \\\"hi\\\"\"}");
    // The 20 identical id-less records: 1 loaded per occurrence number, all distinct ids.
    let derived: Vec<&Vec<String>> = one_rows
        .iter()
        .filter(|r| r[col("transaction_id")].starts_with("tx_"))
        .collect();
    assert_eq!(derived.len(), 20);
    let ids: std::collections::BTreeSet<&String> =
        derived.iter().map(|r| &r[col("transaction_id")]).collect();
    assert_eq!(ids.len(), 20);
    // Line numbers count the lines of multi-line records: record 0 spans lines 2-3, so record 4
    // (the first reject) is on line 7.
    assert_eq!(one_rejects[1][0], "7", "{:?}", one_rejects[1]);
    assert_eq!(one_rejects[1][1], "unparsable date in ts: \"not a date\"");
}

#[test]
fn ingest_no_quality_loads_without_the_checks() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01,10\nt2,c2,2024-01-02,20\n",
    );
    let out = sb.ok(&["ingest", "--no-quality"]);
    assert!(
        out.contains("read 2 = loaded 2 + rejected 0 + duplicates 0"),
        "{out}"
    );
    assert!(!sb.path("wh/quality.csv").exists());
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01,10\nt3,c2,2024-01-03,30\n",
    );
    sb.ok(&["ingest"]);
    assert!(sb.path("wh/quality.csv").exists());
}
