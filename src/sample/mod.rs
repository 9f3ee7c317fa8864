//! `crm sample`: realistic exports for a seed. Three files with the column names and formats of
//! real systems (a shop's customer CSV, an ERP's semicolon-separated gzip order lines, a help
//! desk / marketing platform's JSON Lines events), carrying the structure the analyses look for:
//!
//! - acquisition grows over time (trend); purchases follow weekly and yearly seasonality;
//! - repeat buyers with heterogeneous rates (gamma) who drop out after a purchase (beta), some
//!   coming back months later;
//! - refunds, demographics, geography, acquisition channels;
//! - product categories bought in affine pairs (electronics with accessories, ...);
//! - campaigns sent, opened and clicked that lift purchases in the following week; support
//!   tickets with resolution times and CSAT; NPS surveys;
//! - a share of deliberately bad rows, each of a kind ingest must reject or flag.
//!
//! Customers are generated one at a time from their own seeded stream, so memory stays flat
//! however many are asked for and the output depends only on the seed.
//!
//! About 615 lines: the three exports' writers, each with the formats of the system it imitates;
//! the simulated customers and their histories live in `world.rs`.

pub mod postgres;
mod time_order;
mod world;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::error::{Error, Result};
use world::*;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub customers: u64,
    pub seed: u64,
    pub start: NaiveDate,
    pub months: u32,
    pub bad_rows: f64,
    /// Multiplies purchase rates and divides drop-out chances (1 = the shipped sample).
    pub purchase_rate: f64,
    /// gzip the orders and interactions files.
    pub compress: bool,
    /// Write the interactions file at all.
    pub interactions: bool,
    /// The order of the order lines in their export.
    pub order: LineOrder,
    pub out: PathBuf,
}

/// How the order lines export is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineOrder {
    /// Grouped by customer, each customer's orders in time order (as the generator draws them).
    Customer,
    /// By order time, as an ERP or a shop system writes them; lines of the same minute in the
    /// order they were drawn.
    Time,
}

impl SampleOptions {
    /// The shipped sample's settings for `customers` and `seed`, written to `out`.
    pub fn new(customers: u64, seed: u64, out: PathBuf) -> SampleOptions {
        SampleOptions {
            customers,
            seed,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid"),
            months: 24,
            bad_rows: 0.02,
            purchase_rate: 1.0,
            compress: true,
            interactions: true,
            order: LineOrder::Customer,
            out,
        }
    }

    pub fn orders_file(&self) -> &'static str {
        if self.compress {
            ORDERS_FILE
        } else {
            "orders.csv"
        }
    }

    pub fn interactions_file(&self) -> &'static str {
        if self.compress {
            INTERACTIONS_FILE
        } else {
            "interactions.jsonl"
        }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SampleReport {
    pub customers: u64,
    pub order_lines: u64,
    pub interactions: u64,
    /// Deliberately bad rows written, by file.
    pub bad_customers: u64,
    pub bad_order_lines: u64,
    pub bad_interactions: u64,
}

pub const CUSTOMERS_FILE: &str = "customers.csv";
pub const ORDERS_FILE: &str = "orders.csv.gz";
pub const INTERACTIONS_FILE: &str = "interactions.jsonl.gz";

struct Writers {
    customers: csv::Writer<BufWriter<File>>,
    orders: csv::Writer<Out>,
    /// With `--order time`, the order lines wait here and are written at the end.
    by_time: Option<time_order::ByTime>,
    interactions: Out,
}

impl Writers {
    /// Writes the order line `rec` drawn at `ts`, or keeps it for the time-ordered export.
    fn order_line(&mut self, ts: NaiveDateTime, rec: &[String]) -> csv::Result<()> {
        match &mut self.by_time {
            Some(by_time) => by_time.push(ts, rec),
            None => self.orders.write_record(rec),
        }
    }
}

/// A file written plain or through gzip; `Discard` for a skipped export.
enum Out {
    Plain(BufWriter<File>),
    Gzip(Box<flate2::write::GzEncoder<BufWriter<File>>>),
    Discard,
}

impl Out {
    fn open(dir: &Path, name: &str, compress: bool) -> Result<Out> {
        let f = create(dir, name)?;
        Ok(if compress {
            Out::Gzip(Box::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::default(),
            )))
        } else {
            Out::Plain(f)
        })
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Out::Plain(mut f) => f.flush(),
            Out::Gzip(g) => g.finish()?.flush(),
            Out::Discard => Ok(()),
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Plain(f) => f.write(buf),
            Out::Gzip(g) => g.write(buf),
            Out::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Plain(f) => f.flush(),
            Out::Gzip(g) => g.flush(),
            Out::Discard => Ok(()),
        }
    }
}

fn create(dir: &Path, name: &str) -> Result<BufWriter<File>> {
    let p = dir.join(name);
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(&p).map_err(|e| Error::io(&p, e))?,
    ))
}

pub fn generate(opts: &SampleOptions) -> Result<SampleReport> {
    if opts.customers == 0 {
        return Err(Error::usage("--customers must be at least 1"));
    }
    if !(0.0..=0.5).contains(&opts.bad_rows) {
        return Err(Error::usage("--bad-rows must be between 0 and 0.5"));
    }
    if !(opts.purchase_rate > 0.0 && opts.purchase_rate <= 1000.0) {
        return Err(Error::usage(
            "--purchase-rate must be above 0 and at most 1000",
        ));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let out = &opts.out;
    let mut w = Writers {
        customers: csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(create(out, CUSTOMERS_FILE)?),
        orders: csv::WriterBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_writer(Out::open(out, opts.orders_file(), opts.compress)?),
        by_time: None,
        interactions: if opts.interactions {
            Out::open(out, opts.interactions_file(), opts.compress)?
        } else {
            Out::Discard
        },
    };
    let io = |e: std::io::Error| Error::io(out, e);
    let csv_io = |e: csv::Error| Error::io(out, e);
    w.customers.write_record(CUSTOMER_HEADER).map_err(csv_io)?;
    w.orders.write_record(ORDER_HEADER).map_err(csv_io)?;

    let end = add_months(opts.start, opts.months);
    if opts.order == LineOrder::Time {
        w.by_time = Some(time_order::ByTime::new(out, opts.start, end).map_err(io)?);
    }
    let world = World::new(opts.start, end, opts.seed);
    let mut report = SampleReport::default();
    let mut ids = Ids::default();
    for i in 0..opts.customers {
        let mut rng =
            ChaCha8Rng::seed_from_u64(opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i + 1));
        let mut c = Customer::draw(&world, &mut rng, i);
        c.rate_per_day *= opts.purchase_rate;
        c.dropout /= opts.purchase_rate;
        write_customer(&mut w, &c, &mut rng, opts.bad_rows, &mut report).map_err(csv_io)?;
        let history = simulate(&world, &c, &mut rng);
        write_orders(
            &mut w,
            &world,
            &c,
            &history,
            &mut rng,
            opts.bad_rows,
            &mut ids,
            &mut report,
        )
        .map_err(csv_io)?;
        // The last use of this customer's random stream: skipping it changes nothing else.
        if opts.interactions {
            write_interactions(
                &mut w,
                &c,
                &history,
                &mut rng,
                opts.bad_rows,
                &mut ids,
                &mut report,
            )
            .map_err(io)?;
        }
    }
    // One order line of a customer no customers export knows: kept and flagged as an orphan.
    let orphan_day = world.start + Duration::days(world.days() / 2);
    let orphan_ts = orphan_day.and_hms_opt(12, 0, 0).expect("noon");
    let orphan = [
        "SO-ORPHAN".to_string(),
        "SO-ORPHAN-1".into(),
        "C9999999".into(),
        fmt_order_ts(orphan_ts),
        "BK-0001".into(),
        "Books".into(),
        "1".into(),
        "12.99".into(),
        "USD".into(),
        "web".into(),
        String::new(),
        String::new(),
    ];
    w.order_line(orphan_ts, &orphan).map_err(csv_io)?;
    report.order_lines += 1;

    w.customers.flush().map_err(io)?;
    let mut orders = w
        .orders
        .into_inner()
        .map_err(|e| Error::io(out, e.to_string()))?;
    if let Some(by_time) = w.by_time.take() {
        by_time.finish(&mut orders).map_err(io)?;
    }
    orders.finish().map_err(io)?;
    w.interactions.finish().map_err(io)?;
    Ok(report)
}

fn add_months(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(months))
        .expect("date in range")
}

#[derive(Default)]
struct Ids {
    interaction: u64,
}

/// What happened to one customer: purchases (with campaign-driven ones marked) and campaign
/// contacts.
struct History {
    purchases: Vec<NaiveDateTime>,
    campaigns: Vec<CampaignContact>,
}

struct CampaignContact {
    campaign: usize,
    sent: NaiveDateTime,
    opened: Option<NaiveDateTime>,
    clicked: Option<NaiveDateTime>,
}

/// Purchases by thinning a Poisson process whose rate follows the season, with a drop-out
/// chance after every purchase (BG/NBD's story) and a chance to come back later.
fn simulate(world: &World, c: &Customer, rng: &mut ChaCha8Rng) -> History {
    let mut purchases = Vec::new();
    let mut campaigns = Vec::new();
    let end = world.end.and_hms_opt(0, 0, 0).expect("midnight");
    if c.prospect {
        return History {
            purchases,
            campaigns,
        };
    }
    let first = c.signup + Duration::minutes(rng.random_range(0..(3 * 24 * 60)));
    let first = world.shop_hours(first, rng);
    if first >= end {
        return History {
            purchases,
            campaigns,
        };
    }
    purchases.push(first);
    let max_rate = c.rate_per_day * world.max_season();
    let mut t = first;
    let mut alive_until = end;
    let mut comebacks = 0;
    loop {
        let gap_days = Exp::new(max_rate).expect("positive rate").sample(rng);
        t += Duration::seconds((gap_days * 86_400.0) as i64 + 3600);
        if t >= alive_until {
            // Dropped out: some customers come back months later (reactivation).
            if alive_until < end && comebacks < 2 && rng.random::<f64>() < 0.3 {
                comebacks += 1;
                t = alive_until + Duration::days(rng.random_range(60..300));
                alive_until = end;
                if t >= end {
                    break;
                }
            } else {
                break;
            }
        }
        if rng.random::<f64>() * world.max_season() > world.season(t) {
            continue;
        }
        purchases.push(world.shop_hours(t, rng));
        if rng.random::<f64>() < c.dropout && alive_until == end {
            alive_until = (t + Duration::days(rng.random_range(1..30))).min(end);
        }
    }
    // Campaigns: sent to a share of the customers who had signed up; a click lifts the chance of
    // a purchase in the next week.
    for (k, &day) in world.campaign_days.iter().enumerate() {
        let sent =
            day.and_hms_opt(9, 0, 0).expect("9am") + Duration::minutes(rng.random_range(0..120));
        if sent < c.signup || sent >= end || !c.marketing_opt_in || rng.random::<f64>() > 0.6 {
            continue;
        }
        let opened = (rng.random::<f64>() < c.engagement * 0.6)
            .then(|| sent + Duration::minutes(rng.random_range(5..2880)));
        let clicked = opened
            .filter(|_| rng.random::<f64>() < 0.3)
            .map(|o| o + Duration::minutes(rng.random_range(1..30)));
        if let Some(click) = clicked
            && rng.random::<f64>() < 0.25
        {
            let p = click + Duration::minutes(rng.random_range(5..(6 * 24 * 60)));
            if p < end {
                purchases.push(p);
            }
        }
        campaigns.push(CampaignContact {
            campaign: k,
            sent,
            opened,
            clicked,
        });
    }
    purchases.sort();
    History {
        purchases,
        campaigns,
    }
}

fn maybe_bad(rng: &mut ChaCha8Rng, share: f64) -> bool {
    share > 0.0 && rng.random::<f64>() < share
}

fn write_customer(
    w: &mut Writers,
    c: &Customer,
    rng: &mut ChaCha8Rng,
    bad: f64,
    report: &mut SampleReport,
) -> csv::Result<()> {
    let mut rec = c.record();
    report.customers += 1;
    if maybe_bad(rng, bad) {
        report.bad_customers += 1;
        match rng.random_range(0..5) {
            0 => rec[0] = String::new(),       // missing id
            1 => rec[5] = "not a date".into(), // bad signup date
            2 => rec[9] = "31/02/1980".into(), // impossible birthday
            3 => {
                // ragged line: a field lost
                rec.truncate(rec.len() - 2);
                return w.customers.write_record(&rec);
            }
            _ => {
                // A name with Latin-1 bytes from an old system: kept, decoded lossily, flagged.
                let mut bytes: Vec<Vec<u8>> = rec.iter().map(|s| s.as_bytes().to_vec()).collect();
                bytes[3] = b"Jos\xe9 Mu\xf1oz".to_vec();
                report.bad_customers -= 1; // loaded, only flagged
                return w.customers.write_byte_record(&csv::ByteRecord::from(bytes));
            }
        }
    } else if maybe_bad(rng, bad / 4.0) {
        // The same customer exported twice: a duplicate.
        w.customers.write_record(&rec)?;
        report.customers += 1;
        report.bad_customers += 1;
    }
    w.customers.write_record(&rec)
}

#[allow(clippy::too_many_arguments)]
fn write_orders(
    w: &mut Writers,
    world: &World,
    c: &Customer,
    h: &History,
    rng: &mut ChaCha8Rng,
    bad: f64,
    _ids: &mut Ids,
    report: &mut SampleReport,
) -> csv::Result<()> {
    let end = world.end.and_hms_opt(0, 0, 0).expect("midnight");
    let price = LogNormal::new(0.0, 0.35).expect("valid");
    for (n, &ts) in h.purchases.iter().enumerate() {
        let order_id = format!("SO-{}-{:03}", c.id_num, n + 1);
        let lines = 1 + (rng.random::<f64>() * rng.random::<f64>() * 3.0) as usize;
        let channel = c.sales_channel(rng);
        let store = if channel == "store" {
            format!("ST-{:02}", c.store)
        } else {
            String::new()
        };
        for line in 1..=lines {
            let cat = c.pick_category(rng);
            let qty: u32 = if rng.random::<f64>() < 0.8 {
                1
            } else {
                rng.random_range(2..4)
            };
            let unit = (CATEGORIES[cat].1 * price.sample(rng) * c.spend).max(1.0);
            let total = (unit * qty as f64 * 100.0).round() / 100.0;
            let mut rec = vec![
                order_id.clone(),
                format!("{order_id}-{line}"),
                c.customer_id(),
                fmt_order_ts(ts),
                format!("{}-{:04}", CATEGORIES[cat].2, rng.random_range(1..200)),
                CATEGORIES[cat].0.to_string(),
                qty.to_string(),
                format!("{total:.2}"),
                "USD".into(),
                channel.into(),
                store.clone(),
                if rng.random::<f64>() < 0.1 {
                    "WELCOME10".into()
                } else {
                    String::new()
                },
            ];
            report.order_lines += 1;
            if maybe_bad(rng, bad) {
                report.bad_order_lines += 1;
                match rng.random_range(0..5) {
                    0 => rec[3] = "2023-13-45 25:61".into(), // bad date
                    1 => rec[7] = format!("{total:.2}EUR"),  // bad number
                    2 => rec[2] = String::new(),             // missing customer id
                    3 => rec.push("unexpected".into()),      // ragged line
                    _ => {
                        w.order_line(ts, &rec)?; // exact duplicate line
                        report.order_lines += 1;
                    }
                }
            }
            w.order_line(ts, &rec)?;
            // A few % of lines come back as refunds (negative amounts) some days later.
            if rng.random::<f64>() < 0.035 {
                let back = ts
                    + Duration::days(rng.random_range(3..40))
                    + Duration::minutes(rng.random_range(0..600));
                if back < end {
                    rec[1] = format!("{order_id}-{line}-R");
                    rec[3] = fmt_order_ts(back);
                    rec[7] = format!("{:.2}", -total);
                    rec[11] = String::new();
                    w.order_line(back, &rec)?;
                    report.order_lines += 1;
                }
            }
        }
    }
    Ok(())
}

fn fmt_order_ts(t: NaiveDateTime) -> String {
    t.format("%d.%m.%Y %H:%M").to_string()
}

fn fmt_iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn write_interactions(
    w: &mut Writers,
    c: &Customer,
    h: &History,
    rng: &mut ChaCha8Rng,
    bad: f64,
    ids: &mut Ids,
    report: &mut SampleReport,
) -> std::io::Result<()> {
    let mut events: Vec<serde_json::Value> = Vec::new();
    let mut push = |ids: &mut Ids, mut v: serde_json::Value| {
        ids.interaction += 1;
        v["event_id"] = format!("EV{:08}", ids.interaction).into();
        v["contact_id"] = c.customer_id().into();
        events.push(v);
    };
    for cc in &h.campaigns {
        let cid = format!("CMP-{:03}", cc.campaign + 1);
        push(
            ids,
            serde_json::json!({"occurred_at": fmt_iso(cc.sent), "medium": "Email", "type": "campaign_sent", "campaign": cid}),
        );
        if let Some(o) = cc.opened {
            push(
                ids,
                serde_json::json!({"occurred_at": fmt_iso(o), "medium": "Email", "type": "campaign_open", "campaign": cid}),
            );
        }
        if let Some(k) = cc.clicked {
            push(
                ids,
                serde_json::json!({"occurred_at": fmt_iso(k), "medium": "Web", "type": "campaign_click", "campaign": cid}),
            );
        }
    }
    // Support tickets after some purchases; resolution time log-normal (median ~18 h).
    let hours = LogNormal::new(18f64.ln(), 1.0).expect("valid");
    for (n, &p) in h.purchases.iter().enumerate() {
        if rng.random::<f64>() >= 0.06 {
            continue;
        }
        let opened = p + Duration::hours(rng.random_range(2..240));
        let ticket = format!("TK-{}-{}", c.id_num, n + 1);
        let medium = ["Email", "Chat", "Phone"][rng.random_range(0..3)];
        let took = hours.sample(rng).min(24.0 * 30.0);
        let resolved = opened + Duration::minutes((took * 60.0) as i64);
        let unresolved = rng.random::<f64>() < 0.04;
        let mut t = serde_json::json!({"occurred_at": fmt_iso(opened), "medium": medium, "type": "ticket", "ticket": ticket,
            "agent": format!("agent{}", rng.random_range(1..12))});
        if !unresolved {
            t["resolved_at"] = fmt_iso(resolved).into();
            t["outcome"] = "resolved".into();
        } else {
            t["outcome"] = "open".into();
        }
        push(ids, t);
        if !unresolved && rng.random::<f64>() < 0.55 {
            // Slow resolutions score worse.
            let base = if took < 12.0 {
                4.6
            } else if took < 48.0 {
                3.9
            } else {
                2.8
            };
            let csat = (base + rng.random_range(-1.5..1.0f64))
                .round()
                .clamp(1.0, 5.0) as i64;
            push(
                ids,
                serde_json::json!({"occurred_at": fmt_iso(resolved + Duration::hours(2)), "medium": "Email",
                "type": "survey", "ticket": ticket, "csat": csat}),
            );
        }
    }
    // NPS surveys: a quarter of purchasers answer once a year or so.
    if let (Some(&first), Some(&last)) = (h.purchases.first(), h.purchases.last()) {
        let mut t = first + Duration::days(rng.random_range(20..120));
        while t <= last + Duration::days(30) {
            if rng.random::<f64>() < 0.25 {
                let u: f64 = rng.random::<f64>() * c.engagement.clamp(0.2, 1.0);
                let nps = if u > 0.35 {
                    rng.random_range(9..=10)
                } else if u > 0.15 {
                    rng.random_range(7..=8)
                } else {
                    rng.random_range(0..=6)
                };
                push(
                    ids,
                    serde_json::json!({"occurred_at": fmt_iso(t), "medium": "Web", "type": "survey", "nps": nps}),
                );
            }
            t += Duration::days(rng.random_range(200..400));
        }
    }
    for mut e in events {
        report.interactions += 1;
        if maybe_bad(rng, bad) {
            report.bad_interactions += 1;
            match rng.random_range(0..4) {
                0 => e["medium"] = "Fax".into(), // invalid enum value
                1 => {
                    if e.get("csat").is_some() {
                        e["csat"] = 7.into(); // score out of range
                    } else {
                        e["occurred_at"] = "last tuesday".into();
                    }
                }
                2 => e["event_id"] = serde_json::Value::Null, // missing id
                _ => {
                    let s = e.to_string();
                    writeln!(w.interactions, "{}", &s[..s.len() / 2])?; // truncated line
                    continue;
                }
            }
        }
        writeln!(w.interactions, "{e}")?;
    }
    Ok(())
}
