//! A PostgreSQL database as a source (`url`, with `db_table` or `query`): the rows of one
//! consistent snapshot (a read-only REPEATABLE READ transaction), streamed from a portal in
//! batches so that memory stays bounded at millions of rows. Every value arrives as the text an
//! export would hold (timestamps with a zone in UTC ISO 8601, timestamps without one and dates in
//! ISO 8601, numbers and the rest as PostgreSQL writes them) and goes through the same parsing,
//! validation and rejects as a CSV record; a row's record number is its position in the result.
//!
//! With `incremental_column`, the load reads only the rows whose value in it is past the highest
//! value the last load saw (kept in the manifest as the source's watermark), and records the new
//! highest value, read in the same snapshot as the rows.

use std::path::PathBuf;

use tokio_postgres::{IsolationLevel, NoTls};

use super::{BATCH_ROWS, flush};
use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::ingest::load::Merger;
use crate::ingest::parse::{Raws, RowParser, Spec, raw_csv};
use crate::warehouse::SourceFingerprint;

/// Rows fetched from the portal at a time.
const FETCH_ROWS: i32 = 10_000;

/// How the source is named in counts, rejects and the manifest: the URL (which holds no
/// password) and the table or `query`.
pub fn shown(cfg: &SourceConfig) -> String {
    let url = cfg.url.as_deref().unwrap_or_default();
    match &cfg.db_table {
        Some(t) => format!("{url}#{t}"),
        None => format!("{url}#query"),
    }
}

/// Reads the source into the merger; gives its fingerprint (rows read, a hash of their text,
/// the new watermark). `watermark` is the last load's, for an incremental source.
pub fn read(
    cfg: &SourceConfig,
    spec: &Spec,
    merger: &mut Merger,
    watermark: Option<&str>,
) -> Result<SourceFingerprint> {
    let label = PathBuf::from(shown(cfg));
    let fail = |e: tokio_postgres::Error| Error::source(&label, format!("PostgreSQL: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::source(&label, format!("cannot start the database client: {e}")))?;
    rt.block_on(async {
        let pg = crate::config::postgres_connection(
            cfg.url.as_deref().unwrap_or_default(),
            &cfg.password_env,
            &label,
        )?;
        let (mut client, connection) = pg.connect(NoTls).await.map_err(fail)?;
        let driver = tokio::spawn(connection);
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(fail)?;
        tx.batch_execute("SET LOCAL TIME ZONE 'UTC'; SET LOCAL DateStyle = 'ISO'")
            .await
            .map_err(fail)?;
        let base = match (&cfg.db_table, &cfg.query) {
            (Some(table), _) => format!("select * from {}", quote_path(table)),
            (None, Some(q)) => q.trim().trim_end_matches(';').to_string(),
            (None, None) => unreachable!("validated: db_table or query"),
        };
        let columns: Vec<(String, String)> = tx
            .prepare(&base)
            .await
            .map_err(fail)?
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().name().to_string()))
            .collect();
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        // A table's primary key, to name a rejected row by it beside its position.
        let key: Vec<usize> = match &cfg.db_table {
            Some(table) => tx
                .query(
                    "select a.attname::text from pg_index i \
                     join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) \
                     where i.indrelid = $1::text::regclass and i.indisprimary order by a.attnum",
                    &[&quote_path(table)],
                )
                .await
                .map_err(fail)?
                .iter()
                .filter_map(|r| names.iter().position(|n| *n == r.get::<_, String>(0)))
                .collect(),
            None => Vec::new(),
        };

        let mut filter = String::new();
        let mut new_watermark = None;
        if let Some(col) = &cfg.incremental_column {
            let Some((_, kind)) = columns.iter().find(|(n, _)| n == col) else {
                return Err(Error::source(
                    &label,
                    format!(
                        "incremental_column {col:?} is not a column of the result ({})",
                        names.join(", ")
                    ),
                ));
            };
            let row = tx
                .query_one(
                    &format!("select max(q.{})::text from ({base}) as q", quote(col)),
                    &[],
                )
                .await
                .map_err(fail)?;
            new_watermark = row
                .get::<_, Option<String>>(0)
                .or(watermark.map(str::to_string));
            if let Some(w) = watermark {
                filter = format!(" where q.{} > {}::{kind}", quote(col), literal(w));
            }
        }
        let select: Vec<String> = columns.iter().map(|(n, t)| as_text(n, t)).collect();
        let sql = format!("select {} from ({base}) as q{filter}", select.join(", "));
        let statement = tx.prepare(&sql).await.map_err(fail)?;
        let portal = tx.bind(&statement, &[]).await.map_err(fail)?;

        let parser = RowParser::new(spec, &names);
        parser.check_required(&label.display().to_string())?;
        let mut batch = parser.batch(BATCH_ROWS, Raws::Stored(Vec::new()));
        let mut hasher = blake3::Hasher::new();
        let mut number = 0u64;
        loop {
            let rows = tx.query_portal(&portal, FETCH_ROWS).await.map_err(fail)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                number += 1;
                let values: Vec<Option<&str>> = (0..names.len()).map(|i| row.get(i)).collect();
                for v in &values {
                    hasher.update(v.unwrap_or("\u{0}").as_bytes());
                    hasher.update(b"\x1f");
                }
                hasher.update(b"\x1e");
                let raw = || {
                    let texts: Vec<String> =
                        values.iter().map(|v| v.unwrap_or("").to_string()).collect();
                    with_key(&key, &names, &values, raw_csv(&texts, b',', b'"'))
                };
                parser.parse(&mut batch, number, &values, &raw, None, None);
            }
            if batch.read() as usize >= BATCH_ROWS {
                flush(&mut batch, &parser, merger)?;
            }
            if rows.len() < FETCH_ROWS as usize {
                break;
            }
        }
        merger.merge(batch, &parser)?;
        tx.commit().await.map_err(fail)?;
        drop(client);
        let _ = driver.await;
        Ok(SourceFingerprint {
            path: label.display().to_string(),
            size: number,
            blake3: hasher.finalize().to_hex().to_string(),
            watermark: new_watermark,
        })
    })
}

/// A rejected row's raw record, led by its primary key when the table has one
/// (`[id=2002] 2002,,2024-12-07T11:00:00,...`).
fn with_key(key: &[usize], names: &[String], values: &[Option<&str>], raw: String) -> String {
    if key.is_empty() {
        return raw;
    }
    let parts: Vec<String> = key
        .iter()
        .map(|&i| format!("{}={}", names[i], values[i].unwrap_or("NULL")))
        .collect();
    format!("[{}] {raw}", parts.join(", "))
}

/// A column as the text an export would hold.
fn as_text(name: &str, kind: &str) -> String {
    let c = format!("q.{}", quote(name));
    let expr = match kind {
        "timestamptz" => {
            format!("to_char({c} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        }
        "timestamp" => format!("to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"),
        "date" => format!("to_char({c}, 'YYYY-MM-DD')"),
        _ => format!("{c}::text"),
    };
    format!("{expr} as {}", quote(name))
}

/// An identifier, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name, optionally schema-qualified (`public.sale_order_line`), each part quoted.
fn quote_path(name: &str) -> String {
    name.split('.').map(quote).collect::<Vec<_>>().join(".")
}

/// A string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_literals_are_quoted() {
        assert_eq!(quote_path("public.sale_order"), "\"public\".\"sale_order\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("2024-12-06 10:00:00'"), "'2024-12-06 10:00:00'''");
        assert!(as_text("write_date", "timestamp").starts_with("to_char(q.\"write_date\""));
        assert_eq!(as_text("id", "int4"), "q.\"id\"::text as \"id\"");
    }

    #[test]
    fn a_rejected_row_is_led_by_its_primary_key() {
        let names = ["order_id".to_string(), "line".into(), "amount".into()];
        let values = [Some("SO-1"), Some("2"), None];
        assert_eq!(
            with_key(&[0, 1], &names, &values, "SO-1,2,".into()),
            "[order_id=SO-1, line=2] SO-1,2,"
        );
        assert_eq!(with_key(&[], &names, &values, "x".into()), "x");
    }
}
