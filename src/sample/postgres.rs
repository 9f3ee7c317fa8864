//! `crm sample --postgres URL`: the sample's three exports written into a PostgreSQL database
//! with an Odoo-like schema (`odoo.sql`: res_partner, product_category, product_product,
//! sale_order, sale_order_line, mail_message), and the pipeline config that reads them back
//! (`odoo_pipeline.toml`), so the path from an ERP's database to the report can be run end to end.
//!
//! The rows come from the exports just written, so the database holds the same customers, orders
//! and events. A typed database cannot hold everything a text export can, and the bad rows show
//! it: a value its column's type cannot hold (a date of "2023-13-45", an amount of "12.34EUR")
//! is stored as NULL, which ingest rejects as missing where it is required; a row no table can
//! hold (a ragged line, a truncated JSON line, an event without an id) is left out; an exported
//! line written twice is stored once. A customer number the orders or events name but the
//! customer export lacks becomes a partner with only that number, as an ERP would have it.
//! Everything goes in with COPY into tables created fresh (an existing table of these names is
//! never touched: the run fails instead), and the keys are added after.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use futures_util::SinkExt;
use tokio_postgres::NoTls;

use super::world::{CUSTOMER_HEADER, ORDER_HEADER};
use crate::error::{Error, Result};

const SCHEMA: &str = include_str!("odoo.sql");
const KEYS: &str = include_str!("odoo_keys.sql");
const PIPELINE: &str = include_str!("odoo_pipeline.toml");
/// The file name of the config written beside the exports.
pub const PIPELINE_FILE: &str = "pipeline-postgres.toml";

/// What went into the database.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DbReport {
    pub partners: u64,
    pub orders: u64,
    pub order_lines: u64,
    pub messages: u64,
    /// Export rows no table can hold (ragged or truncated lines, events without an id, a line
    /// exported twice).
    pub left_out: u64,
    /// Values a typed column cannot hold, stored as NULL.
    pub nulled: u64,
}

/// The exports the sample wrote into `dir`, by file name.
pub struct Exports<'a> {
    pub dir: &'a Path,
    pub customers: &'a str,
    pub orders: &'a str,
    pub interactions: Option<&'a str>,
}

/// Writes the exports into the database at `url` (password from `password_env`) and the
/// pipeline config reading them into `exports.dir`; gives what went in.
pub fn load(exports: &Exports, url: &str, password_env: &str) -> Result<DbReport> {
    let label = PathBuf::from(url);
    if crate::config::url_has_password(url) {
        return Err(Error::usage(format!(
            "--postgres {url} holds a password: put it in the environment variable {password_env} instead (--password-env)"
        )));
    }
    let pg = crate::config::postgres_connection(url, password_env, &label)?;
    let rows = Rows::read(exports)?;
    let fail = |e: tokio_postgres::Error| Error::source(&label, format!("PostgreSQL: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::source(&label, format!("cannot start the database client: {e}")))?;
    rt.block_on(async {
        let (mut client, connection) = pg.connect(NoTls).await.map_err(fail)?;
        let driver = tokio::spawn(connection);
        let tx = client.transaction().await.map_err(fail)?;
        for table in [
            "res_partner",
            "product_category",
            "product_product",
            "sale_order",
            "sale_order_line",
            "mail_message",
        ] {
            let exists: bool = tx
                .query_one("select to_regclass($1) is not null", &[&table])
                .await
                .map_err(fail)?
                .get(0);
            if exists {
                return Err(Error::source(
                    &label,
                    format!(
                        "the database already has a table {table}: crm sample writes only into a database without the sample's tables (create an empty one: createdb crm_sample)"
                    ),
                ));
            }
        }
        tx.batch_execute(SCHEMA).await.map_err(fail)?;
        for (table, text) in rows.tables() {
            copy(&tx, table, text).await.map_err(fail)?;
        }
        tx.batch_execute(KEYS).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        drop(client);
        let _ = driver.await;
        Ok::<_, Error>(())
    })?;
    let cfg = PIPELINE
        .replace("@URL@", url)
        .replace("@PASSWORD_ENV@", password_env);
    let path = exports.dir.join(PIPELINE_FILE);
    std::fs::write(&path, cfg).map_err(|e| Error::io(&path, e))?;
    Ok(rows.report)
}

async fn copy(
    client: &tokio_postgres::Transaction<'_>,
    table: &str,
    text: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    let sink = client.copy_in(&format!("copy {table} from stdin")).await?;
    let mut sink = std::pin::pin!(sink);
    for chunk in text.as_bytes().chunks(1 << 20) {
        sink.send(bytes::Bytes::copy_from_slice(chunk)).await?;
    }
    sink.as_mut().finish().await?;
    Ok(())
}

/// The tables' rows in COPY's text format, built from the exports.
#[derive(Default)]
struct Rows {
    partners: String,
    categories: String,
    products: String,
    orders: String,
    lines: String,
    messages: String,
    report: DbReport,
    partner_ids: HashMap<String, u64>,
    category_ids: HashMap<String, u64>,
    product_ids: HashMap<String, u64>,
    order_ids: HashMap<(String, String, String), u64>,
    line_refs: HashSet<String>,
    sequence: HashMap<u64, u32>,
}

impl Rows {
    fn tables(&self) -> [(&'static str, &str); 6] {
        [
            (
                "res_partner (id, ref, email, phone, name, x_accepts_marketing, create_date, country_name, state_name, city, x_birthdate, x_gender, x_income_band, x_acquisition_source, x_loyalty_member, x_loyalty_tier, x_tags)",
                &self.partners,
            ),
            ("product_category (id, name)", &self.categories),
            (
                "product_product (id, default_code, categ_id)",
                &self.products,
            ),
            (
                "sale_order (id, name, partner_id, date_order, currency, x_sales_channel, x_store, x_coupon)",
                &self.orders,
            ),
            (
                "sale_order_line (id, order_id, sequence, product_id, product_uom_qty, price_total)",
                &self.lines,
            ),
            (
                "mail_message (id, res_id, date, message_type, x_kind, x_campaign, x_ticket, x_resolved_date, x_csat, x_nps, x_outcome, x_agent)",
                &self.messages,
            ),
        ]
    }

    fn read(exports: &Exports) -> Result<Rows> {
        let mut rows = Rows::default();
        let path = exports.dir.join(exports.customers);
        let mut customers = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(open(&path)?);
        let mut seen = HashSet::new();
        for rec in customers.byte_records() {
            let rec = rec.map_err(|e| Error::io(&path, e))?;
            let f: Vec<String> = rec
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            if f.len() != CUSTOMER_HEADER.len() || !seen.insert(f.clone()) {
                rows.report.left_out += 1;
                continue;
            }
            rows.partner(&f);
        }

        let path = exports.dir.join(exports.orders);
        let mut orders = csv::ReaderBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_reader(open(&path)?);
        for rec in orders.records() {
            let rec = rec.map_err(|e| Error::io(&path, e))?;
            let f: Vec<&str> = rec.iter().collect();
            if f.len() != ORDER_HEADER.len() || !rows.line_refs.insert(f[1].to_string()) {
                rows.report.left_out += 1;
                continue;
            }
            rows.order_line(&f);
        }

        if let Some(name) = exports.interactions {
            let path = exports.dir.join(name);
            for line in BufReader::new(open(&path)?).lines() {
                let line = line.map_err(|e| Error::io(&path, e))?;
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) if v["event_id"].is_string() => rows.message(&v),
                    _ => rows.report.left_out += 1,
                }
            }
        }
        Ok(rows)
    }

    /// The partner id of a customer number, creating a partner with only that number when the
    /// customer export lacks it.
    fn partner_id(&mut self, customer: &str) -> Option<u64> {
        if customer.is_empty() {
            return None;
        }
        if let Some(&id) = self.partner_ids.get(customer) {
            return Some(id);
        }
        self.report.partners += 1;
        let id = self.report.partners;
        self.partner_ids.insert(customer.to_string(), id);
        let mut row = vec![Some(id.to_string()), Some(customer.to_string())];
        row.resize(17, None);
        push_row(&mut self.partners, &row);
        Some(id)
    }

    fn partner(&mut self, f: &[String]) {
        if self.partner_ids.contains_key(&f[0]) {
            // The same customer number twice with different fields: the first one is kept.
            self.report.left_out += 1;
            return;
        }
        self.report.partners += 1;
        let id = self.report.partners;
        // A customer row without its number is a partner without a ref, rejected at ingest.
        if !f[0].is_empty() {
            self.partner_ids.insert(f[0].clone(), id);
        }
        let created = self.typed(&f[5], |s| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").map(|t| t.to_string())
        });
        let birth = self.typed(&f[9], |s| {
            NaiveDate::parse_from_str(s, "%d/%m/%Y").map(|d| d.to_string())
        });
        let yes = |s: &str| Some((s == "yes").to_string());
        let text = |s: &String| (!s.is_empty()).then(|| s.clone());
        let row = vec![
            Some(id.to_string()),
            text(&f[0]),
            text(&f[1]),
            text(&f[2]),
            text(&f[3]),
            yes(&f[4]),
            created,
            text(&f[6]),
            text(&f[7]),
            text(&f[8]),
            birth,
            text(&f[10]),
            text(&f[11]),
            text(&f[12]),
            yes(&f[13]),
            text(&f[14]),
            text(&f[15]),
        ];
        push_row(&mut self.partners, &row);
    }

    fn order_line(&mut self, f: &[&str]) {
        // Order ID, Line ID, Customer ID, Order Date, SKU, Category, Qty, Total, Currency,
        // Sales Channel, Store, Coupon. A refund line (another day) is an order of its own.
        let key = (f[0].to_string(), f[3].to_string(), f[2].to_string());
        let order = match self.order_ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.order_ids.len() as u64 + 1;
                self.order_ids.insert(key, id);
                self.report.orders += 1;
                let partner = self.partner_id(f[2]);
                let date = self.typed(f[3], |s| {
                    NaiveDateTime::parse_from_str(s, "%d.%m.%Y %H:%M").map(|t| t.to_string())
                });
                let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
                push_row(
                    &mut self.orders,
                    &[
                        Some(id.to_string()),
                        Some(f[0].to_string()),
                        partner.map(|p| p.to_string()),
                        date,
                        opt(f[8]),
                        opt(f[9]),
                        opt(f[10]),
                        opt(f[11]),
                    ],
                );
                id
            }
        };
        let product = (!f[4].is_empty()).then(|| {
            if let Some(&id) = self.product_ids.get(f[4]) {
                return id;
            }
            let categ = match self.category_ids.get(f[5]) {
                Some(&c) => c,
                None => {
                    let c = self.category_ids.len() as u64 + 1;
                    self.category_ids.insert(f[5].to_string(), c);
                    push_row(
                        &mut self.categories,
                        &[Some(c.to_string()), Some(f[5].to_string())],
                    );
                    c
                }
            };
            let id = self.product_ids.len() as u64 + 1;
            self.product_ids.insert(f[4].to_string(), id);
            push_row(
                &mut self.products,
                &[
                    Some(id.to_string()),
                    Some(f[4].to_string()),
                    Some(categ.to_string()),
                ],
            );
            id
        });
        let sequence = self.sequence.entry(order).or_insert(0);
        *sequence += 1;
        let sequence = *sequence;
        let qty = self.typed(f[6], |s| s.parse::<u32>().map(|q| q.to_string()));
        let total = self.typed(f[7], |s| s.parse::<f64>().map(|_| s.to_string()));
        self.report.order_lines += 1;
        let id = self.report.order_lines;
        push_row(
            &mut self.lines,
            &[
                Some(id.to_string()),
                Some(order.to_string()),
                Some(sequence.to_string()),
                product.map(|p| p.to_string()),
                qty,
                total,
            ],
        );
    }

    fn message(&mut self, v: &serde_json::Value) {
        let s = |k: &str| v[k].as_str().map(str::to_string);
        let partner = v["contact_id"]
            .as_str()
            .and_then(|c| self.partner_id(c))
            .map(|p| p.to_string());
        let ts = |rows: &mut Rows, k: &str| {
            let raw = v[k].as_str()?.to_string();
            rows.typed(&raw, |s| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").map(|t| t.to_string())
            })
        };
        let date = ts(self, "occurred_at");
        let resolved = ts(self, "resolved_at");
        let int = |k: &str| v[k].as_i64().map(|n| n.to_string());
        self.report.messages += 1;
        let row = [
            Some(self.report.messages.to_string()),
            partner,
            date,
            s("medium"),
            s("type"),
            s("campaign"),
            s("ticket"),
            resolved,
            int("csat"),
            int("nps"),
            s("outcome"),
            s("agent"),
        ];
        push_row(&mut self.messages, &row);
    }

    /// A value for a typed column: None for an empty one, and for one the type cannot hold
    /// (counted).
    fn typed<E>(
        &mut self,
        raw: &str,
        parse: impl Fn(&str) -> std::result::Result<String, E>,
    ) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        let v = parse(raw).ok();
        if v.is_none() {
            self.report.nulled += 1;
        }
        v
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let f = std::io::BufReader::with_capacity(1 << 20, f);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    })
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
fn push_row(out: &mut String, row: &[Option<String>]) {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match v {
            None => out.push_str("\\N"),
            Some(s) => {
                for ch in s.chars() {
                    match ch {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c => out.push(c),
                    }
                }
            }
        }
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_split_a_row_and_marks_null() {
        let mut out = String::new();
        push_row(
            &mut out,
            &[
                Some("a\tb".into()),
                None,
                Some("c\\d\ne".into()),
                Some(String::new()),
            ],
        );
        assert_eq!(out, "a\\tb\t\\N\tc\\\\d\\ne\t\n");
    }

    #[test]
    fn a_customer_number_only_the_orders_name_becomes_a_partner_with_just_that_number() {
        let mut rows = Rows::default();
        let c: Vec<String> = [
            "C1",
            "a@x",
            "",
            "Ann",
            "yes",
            "2023-01-02 10:00:00",
            "DE",
            "BY",
            "Munich",
            "31/02/1980",
            "F",
            "low",
            "Web",
            "no",
            "",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        rows.partner(&c);
        assert_eq!(rows.report.nulled, 1, "31 February cannot be a date");
        let line = [
            "SO-9",
            "SO-9-1",
            "C9",
            "01.02.2023 12:00",
            "BK-1",
            "Books",
            "1",
            "12.99EUR",
            "USD",
            "web",
            "",
            "",
        ];
        rows.order_line(&line);
        assert_eq!(rows.partner_ids["C9"], 2);
        assert_eq!(rows.report.partners, 2);
        assert_eq!(rows.report.nulled, 2, "12.99EUR is not a number");
        assert!(
            rows.partners
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("2\tC9\t\\N")
        );
        assert_eq!(rows.lines, "1\t1\t1\t1\t1\t\\N\n");
    }
}
