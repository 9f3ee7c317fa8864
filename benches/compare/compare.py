"""crm against DuckDB on the same machine, the same data and the same work.

Run through `benches/compare/run` (it builds crm in release and installs the pinned DuckDB in
its own virtual environment). Steps, each timed several runs, crm and DuckDB alternating:

  ingest   the transactions CSV into the warehouse (crm ingest --no-quality: the load alone,
           as DuckDB's COPY is; the data-quality checks a plain `crm ingest` adds are a
           query pass of their own) vs DuckDB's
           COPY (SELECT ... FROM read_csv(...)) TO '...parquet'
  ingest-time
           the same order lines written by order time (crm sample --order time), as ERPs and
           shop systems export them, loaded by crm (its file sorted by customer, as always) vs
           DuckDB's plain COPY and its COPY with ORDER BY customer_id, order_id (crm's output
           order); crm's RFM from this warehouse must equal its RFM from the grouped one
  rfm      RFM scores and segments over the warehouse's Parquet files
  cohorts  the monthly cohort retention matrix over the same files
  clv      BG/NBD + Gamma-Gamma fit for 1M customers (crm only: `cargo bench --bench clv_fit`)
  nightly  `crm run` on the sample's three exports at 100k customers (crm sample --customers
           100000 --purchase-rate 20: 7.1M order lines, 1.7M interactions), mapped by the
           shipped sample-data/pipeline.toml: once into an empty warehouse (load and every
           analysis, the report), once more with nothing new to load (crm only)

The answers are compared (rfm and cohorts must be equal row for row) before any time counts.
Wall time is the median of the runs; peak memory is the child process's maximum resident set
(wait4's ru_maxrss), the largest over the runs. Results go to stdout as a Markdown table and to
results.json in the work folder.
"""

import argparse
import csv
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def run_measured(cmd, cwd=None, env=None):
    """Runs cmd; returns (seconds, peak RSS in MiB). Fails loudly with the command's output.

    Each run starts with nothing left to write back: the files the run before wrote (3.9 GB of
    warehouse at 100M lines, 1.2 GB of DuckDB's Parquet) are flushed first, so that no run
    pays for writing back the one before it."""
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait4 gives this child's own rusage; communicate() first would reap it without one.
    out_chunks = []
    err_chunks = []
    import threading

    def drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    threads = [
        threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
        threading.Thread(target=drain, args=(proc.stderr, err_chunks)),
    ]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(b"".join(out_chunks).decode(errors="replace"))
        sys.stderr.write(b"".join(err_chunks).decode(errors="replace"))
        raise SystemExit(f"compare: failed ({proc.returncode}): {' '.join(map(str, cmd))}")
    return elapsed, usage.ru_maxrss / 1024.0


def duckdb_cmd(python, sql_file, threads=None):
    code = (
        "import duckdb, sys; con = duckdb.connect(); "
        + (f"con.execute('set threads = {threads}'); " if threads else "")
        + "con.execute(open(sys.argv[1]).read())"
    )
    return [python, "-c", code, str(sql_file)]


def read_sorted_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return header, sorted(body)


def normalise(rows):
    """Numbers compared as numbers (1.0 == 1), empty as empty."""
    out = []
    for r in rows:
        norm = []
        for v in r:
            try:
                norm.append(round(float(v), 6))
            except ValueError:
                norm.append(v)
        out.append(norm)
    return sorted(out, key=lambda r: [str(v) for v in r])


def _same_answer(step, crm_csv, duck_csv):
    h1, b1 = read_sorted_csv(crm_csv)
    h2, b2 = read_sorted_csv(duck_csv)
    if h1 != h2:
        return None, f"compare: {step}: headers differ: crm {h1} vs DuckDB {h2}"
    n1, n2 = normalise(b1), normalise(b2)
    if n1 != n2:
        diff = next((a, b) for a, b in zip(n1, n2) if a != b) if len(n1) == len(n2) else None
        return None, f"compare: {step}: answers differ ({len(n1)} vs {len(n2)} rows); first difference: {diff}"
    return len(n1), None


def same_answer(step, crm_csv, duck_csv):
    """Compares the two answers in a child process. Linux carries a process's peak resident set
    into every program it starts (ru_maxrss survives fork and exec), so this script must stay
    small: reading a million-row answer here once made every later crm and DuckDB run report
    the script's 2.3 GiB as its own peak."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        n, error = pool.apply(_same_answer, (step, crm_csv, duck_csv))
    if error:
        raise SystemExit(error)
    return n


def table_files(warehouse, table):
    manifest = json.loads((warehouse / "manifest.json").read_text())
    files = [str(warehouse / f) for f in manifest["tables"][table]["files"]]
    return "[" + ", ".join(f"'{f}'" for f in files) + "]"


def write_config(work, csv_path, warehouse, name="bench.toml"):
    cfg = work / name
    cfg.write_text(
        f"""# Written by benches/compare: the transactions export of `crm sample --uncompressed`.
[warehouse]
path = "{warehouse}"

[sources.transactions]
path = "{csv_path}"
format = "csv"
delimiter = ";"
timestamp_format = "%d.%m.%Y %H:%M"

[sources.transactions.columns]
transaction_id = "Line ID"
order_id = "Order ID"
customer_id = "Customer ID"
ts = "Order Date"
amount = "Total"
currency = "Currency"
quantity = "Qty"
product_id = "SKU"
product_category = "Category"
channel = "Sales Channel"
store_id = "Store"
"""
    )
    return cfg


DUCK_SELECT = """
    select
        "Line ID" as transaction_id, "Order ID" as order_id, "Customer ID" as customer_id,
        "Order Date" as ts, "Total" as amount, "Currency" as currency, "Qty" as quantity,
        "SKU" as product_id, "Category" as product_category, "Sales Channel" as channel,
        "Store" as store_id
    from read_csv('{csv}', delim = ';', header = true, timestampformat = '%d.%m.%Y %H:%M',
        columns = {{
            'Order ID': 'VARCHAR', 'Line ID': 'VARCHAR', 'Customer ID': 'VARCHAR',
            'Order Date': 'TIMESTAMP', 'SKU': 'VARCHAR', 'Category': 'VARCHAR', 'Qty': 'BIGINT',
            'Total': 'DOUBLE', 'Currency': 'VARCHAR', 'Sales Channel': 'VARCHAR',
            'Store': 'VARCHAR', 'Coupon': 'VARCHAR'}})
"""

DUCK_INGEST = "copy (" + DUCK_SELECT + ") to '{out}' (format parquet, compression zstd)\n"

# The same rows in crm's output order: grouped by customer, an order's lines together.
DUCK_INGEST_ORDERED = (
    "copy (" + DUCK_SELECT + " order by customer_id, order_id) to '{out}' (format parquet, compression zstd)\n"
)


def sample_export(args, work, size, customers, order):
    """The size's transactions export, generated once: grouped by customer (crm sample's default)
    or by order time; the same seed, so the same lines."""
    suffix = "" if order == "customer" else f"-{order}"
    data = work / f"data-{size}{suffix}"
    if not (data / "orders.csv").exists():
        print(f"== generating {size} ({order} order): crm sample --customers {customers}", flush=True)
        tmp = work / f"data-{size}{suffix}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        t, rss = run_measured(
            [args.crm, "sample", "--customers", str(customers), "--seed", "7",
             "--purchase-rate", "28", "--bad-rows", "0", "--uncompressed",
             "--no-interactions", "--order", order, "--out", str(tmp)]
        )
        tmp.rename(data)
        print(f"   {t:.1f} s, peak {rss:.0f} MiB", flush=True)
    return data / "orders.csv"


def median_row(step, rows, crm_times, crm_rss, duck_times, duck_rss):
    cm = statistics.median(crm_times)
    row = {
        "step": step,
        "rows": rows,
        "runs": len(crm_times),
        "crm_s": round(cm, 3),
        "crm_rss_mib": round(max(crm_rss)),
        "crm_all_s": [round(t, 3) for t in crm_times],
    }
    if duck_times:
        dm = statistics.median(duck_times)
        row.update(
            {
                "duckdb_s": round(dm, 3),
                "duckdb_rss_mib": round(max(duck_rss)),
                "duckdb_all_s": [round(t, 3) for t in duck_times],
                "ratio": round(cm / dm, 2),
            }
        )
    return row


def alternate(args, label, warehouse, cfg, scripts):
    """crm's load of `cfg` into an empty `warehouse` and each (name, DuckDB script), one after
    the other, `args.runs` times: ((crm times, crm peaks), [(times, peaks) per script])."""
    crm = ([], [])
    duck = [([], []) for _ in scripts]
    for i in range(args.runs):
        shutil.rmtree(warehouse, ignore_errors=True)
        t, r = run_measured([args.crm, "ingest", "--no-quality", "--config", str(cfg)])
        crm[0].append(t)
        crm[1].append(r)
        said = [f"crm {t:.2f} s"]
        for (name, sql), (times, peaks) in zip(scripts, duck):
            t, r = run_measured(duckdb_cmd(args.python, sql))
            times.append(t)
            peaks.append(r)
            said.append(f"{name} {t:.2f} s")
        print(f"   {label} run {i + 1}: " + ", ".join(said), flush=True)
    return crm, duck


def time_ordered(args, work, size, customers, grouped_cfg, lines, results):
    """Times the load of the time-ordered export against DuckDB's COPY, plain and sorted into
    crm's output order; checks that crm's RFM from it equals its RFM from the grouped export."""
    csv_path = sample_export(args, work, size, customers, "time")
    warehouse = work / f"warehouse-{size}-time"
    cfg = write_config(work, csv_path, warehouse, name=f"bench-{size}-time.toml")
    plain = work / f"ingest-{size}-time.sql"
    plain.write_text(DUCK_INGEST.format(csv=csv_path, out=work / f"duck-{size}-time.parquet"))
    ordered = work / f"ingest-{size}-time-ordered.sql"
    ordered.write_text(DUCK_INGEST_ORDERED.format(csv=csv_path, out=work / f"duck-{size}-time-ordered.parquet"))
    (crm_t, crm_r), [(plain_t, plain_r), (ord_t, ord_r)] = alternate(
        args, f"ingest {size} time-ordered", warehouse, cfg,
        [("DuckDB COPY", plain), ("COPY ... ORDER BY", ordered)],
    )
    answers = []
    for c in (grouped_cfg, cfg):
        out = subprocess.run([args.crm, "rfm", "--format", "csv", "--config", str(c)],
                             check=True, capture_output=True).stdout
        answers.append(out)
    if answers[0] != answers[1]:
        sys.exit(f"crm's RFM from the time-ordered {size} export differs from the grouped one's")
    print("   crm's RFM from the time-ordered export equals the grouped export's", flush=True)
    results.append(median_row("ingest, time-ordered export vs COPY", lines, crm_t, crm_r, plain_t, plain_r))
    results.append(median_row("ingest, time-ordered export vs COPY ... ORDER BY", lines, crm_t, crm_r, ord_t, ord_r))


def nightly(args, work, results):
    """Times the nightly job a business runs: `crm run` into an empty warehouse, then again with
    nothing new. The tables it writes are the same both times; only the load differs."""
    data = work / "data-nightly"
    if not (data / "orders.csv.gz").exists():
        print("== generating nightly: crm sample --customers 100000 --purchase-rate 20", flush=True)
        tmp = work / "data-nightly.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        run_measured([args.crm, "sample", "--customers", "100000", "--purchase-rate", "20", "--out", str(tmp)])
        tmp.rename(data)
    config = (REPO / "sample-data/pipeline.toml").read_text()
    config = config.replace('"../target/sample-warehouse"', f'"{work / "warehouse-nightly"}"')
    config = config.replace('"../target/sample-reports"', f'"{work / "reports-nightly"}"')
    cfg = data / "pipeline.toml"
    cfg.write_text(config)
    with gzip.open(data / "orders.csv.gz", "rb") as f:
        lines = sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 24), b"")) - 1
    fresh_t, fresh_r, again_t, again_r = [], [], [], []
    for i in range(args.runs):
        shutil.rmtree(work / "warehouse-nightly", ignore_errors=True)
        t, r = run_measured([args.crm, "run", "--config", str(cfg)])
        fresh_t.append(t)
        fresh_r.append(r)
        t, r = run_measured([args.crm, "run", "--config", str(cfg)])
        again_t.append(t)
        again_r.append(r)
        print(f"   nightly run {i + 1}: {fresh_t[-1]:.2f} s with the load, {again_t[-1]:.2f} s with nothing new", flush=True)
    results.append(median_row("nightly `crm run`, empty warehouse", lines, fresh_t, fresh_r, [], []))
    results.append(median_row("nightly `crm run`, nothing new", lines, again_t, again_r, [], []))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crm", required=True, help="the crm release binary")
    ap.add_argument("--python", required=True, help="the Python with duckdb installed")
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--sizes", default="10M", help="comma-separated: 10M, 100M")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", default="ingest,ingest-time,rfm,cohorts,clv,nightly")
    ap.add_argument("--memory-limit", default=None, help="also time rfm under this crm --memory-limit")
    args = ap.parse_args()
    steps = args.steps.split(",")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results = []
    # ~100 order lines per customer at --purchase-rate 28 (measured): customers per size.
    customers = {"1M": 10_000, "10M": 100_000, "100M": 1_000_000}

    import duckdb  # noqa: F401  (the script itself runs in the DuckDB venv)

    for size in args.sizes.split(","):
        csv_path = sample_export(args, work, size, customers[size], "customer")
        with open(csv_path, "rb") as f:
            lines = sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 24), b"")) - 1
        warehouse = work / f"warehouse-{size}"
        cfg = write_config(work, csv_path, warehouse)

        if "ingest" in steps:
            sql = work / f"ingest-{size}.sql"
            sql.write_text(DUCK_INGEST.format(csv=csv_path, out=work / f"duck-{size}.parquet"))
            (crm_t, crm_r), [(duck_t, duck_r)] = alternate(
                args, f"ingest {size}", warehouse, cfg, [("DuckDB", sql)]
            )
            results.append(median_row("ingest", lines, crm_t, crm_r, duck_t, duck_r))
        else:
            # Loads the export if the warehouse is missing; otherwise only checks it is unchanged
            # (and upgrades a warehouse an older crm wrote).
            run_measured([args.crm, "ingest", "--no-quality", "--config", str(cfg)])

        if "ingest-time" in steps:
            time_ordered(args, work, size, customers[size], cfg, lines, results)

        files = table_files(warehouse, "transactions")
        key_files = table_files(warehouse, "customer_keys")
        rules = (REPO / "queries/seeds/rfm_segment_rules.sql").read_text()
        rules = "\n".join(l for l in rules.splitlines() if not l.startswith("--"))
        for step, crm_args, sql_name in [
            ("rfm", ["rfm"], "rfm.sql"),
            ("cohorts", ["retention", "--cohorts"], "cohorts.sql"),
        ]:
            if step not in steps:
                continue
            crm_out = work / f"{step}-{size}-crm.csv"
            duck_out = work / f"{step}-{size}-duckdb.csv"
            sql = work / f"{step}-{size}.sql"
            body = (HERE / "duckdb" / sql_name).read_text().format(
                transactions=files, customer_keys=key_files, rules=rules
            )
            sql.write_text(f"copy ({body}) to '{duck_out}' (header, delimiter ',');\n")
            crm_cmd = [args.crm, *crm_args, "--warehouse", str(warehouse), "--format", "csv", "--out", str(crm_out)]
            crm_t, crm_r, duck_t, duck_r = [], [], [], []
            for i in range(args.runs):
                t, r = run_measured(crm_cmd)
                crm_t.append(t)
                crm_r.append(r)
                t, r = run_measured(duckdb_cmd(args.python, sql))
                duck_t.append(t)
                duck_r.append(r)
                if i == 0:
                    n = same_answer(f"{step} {size}", crm_out, duck_out)
                    print(f"   {step} {size}: same {n} rows from both", flush=True)
                print(f"   {step} {size} run {i + 1}: crm {crm_t[-1]:.2f} s, DuckDB {duck_t[-1]:.2f} s", flush=True)
            results.append(median_row(step, lines, crm_t, crm_r, duck_t, duck_r))
            if step == "rfm" and args.memory_limit:
                lim_t, lim_r = [], []
                for i in range(args.runs):
                    t, r = run_measured(crm_cmd + ["--memory-limit", args.memory_limit])
                    lim_t.append(t)
                    lim_r.append(r)
                same_answer(f"rfm {size} under --memory-limit", crm_out, duck_out)
                results.append(median_row(f"rfm --memory-limit {args.memory_limit}", lines, lim_t, lim_r, [], []))

    if "clv" in steps:
        print("== clv: cargo bench --bench clv_fit", flush=True)
        out = subprocess.run(
            ["cargo", "bench", "--bench", "clv_fit", "--", "--noplot"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout
        est = json.loads(
            (Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
             / "criterion/clv/bgnbd_and_gamma_gamma_fit_1m_customers/new/estimates.json").read_text()
        )
        results.append({
            "step": "clv fit (1M customers)", "rows": 1_000_000, "runs": 10,
            "crm_s": round(est["median"]["point_estimate"] / 1e9, 3),
        })
        print(out[-600:])

    if "nightly" in steps:
        nightly(args, work, results)

    machine = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor()),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "duckdb": __import__("duckdb").__version__,
        "crm": subprocess.run([args.crm, "--version"], capture_output=True, text=True).stdout.strip(),
    }
    (work / "results.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print()
    print(f"{machine['date']}, {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, DuckDB {machine['duckdb']}, {machine['crm']}")
    print()
    print("| step | rows | crm median s | DuckDB median s | crm / DuckDB | crm peak RSS MiB | DuckDB peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['step']} | {r['rows']:,} | {r['crm_s']} | {r.get('duckdb_s', '-')} | {r.get('ratio', '-')} "
            f"| {r.get('crm_rss_mib', '-')} | {r.get('duckdb_rss_mib', '-')} |"
        )


if __name__ == "__main__":
    main()
