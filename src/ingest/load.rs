//! Validating export records into canonical rows: the `Sink` that maps export columns to
//! canonical ones, parses each value, derives missing transaction ids, sorts every record into
//! loaded, rejected or duplicate, and builds the polars frames the warehouse files are written
//! from.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use polars::prelude::*;

use super::schema::{self, ColumnSpec, Kind, TimeFormats, Value};
use super::source::{Record, Sink};
use crate::config::Table;
use crate::error::{Error, Result};
use crate::warehouse::FileStats;

/// What the warehouse already holds for a table: id -> record hash. Rows loaded earlier in the
/// same run are added, so two exports in one run are deduplicated against each other too.
/// FxHash: a lookup per record on ids we wrote ourselves or read from the business's own
/// exports; SipHash's flooding resistance cost a tenth of the load's time.
pub type KnownIds = FxHashMap<String, i64>;

#[derive(Debug)]
enum Buf {
    Str(Vec<Option<String>>),
    Date(Vec<Option<i32>>),
    Ts(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl Buf {
    fn for_kind(kind: Kind) -> Buf {
        match kind {
            Kind::Str | Kind::Enum(_) => Buf::Str(Vec::new()),
            Kind::Date => Buf::Date(Vec::new()),
            Kind::Timestamp => Buf::Ts(Vec::new()),
            Kind::Decimal => Buf::F64(Vec::new()),
            Kind::Int | Kind::Score(..) => Buf::I64(Vec::new()),
            Kind::Bool => Buf::Bool(Vec::new()),
        }
    }

    fn push(&mut self, v: Value) {
        match (self, v) {
            (Buf::Str(b), Value::Str(s)) => b.push(Some(s)),
            (Buf::Str(b), Value::Null) => b.push(None),
            (Buf::Date(b), Value::Date(d)) => b.push(Some(d)),
            (Buf::Date(b), Value::Null) => b.push(None),
            (Buf::Ts(b), Value::Timestamp(t)) => b.push(Some(t)),
            (Buf::Ts(b), Value::Null) => b.push(None),
            (Buf::F64(b), Value::F64(f)) => b.push(Some(f)),
            (Buf::F64(b), Value::Null) => b.push(None),
            (Buf::I64(b), Value::I64(i)) => b.push(Some(i)),
            (Buf::I64(b), Value::Null) => b.push(None),
            (Buf::Bool(b), Value::Bool(x)) => b.push(Some(x)),
            (Buf::Bool(b), Value::Null) => b.push(None),
            (buf, v) => unreachable!("value {v:?} does not fit column {buf:?}"),
        }
    }

    fn into_series(self, name: &str) -> PolarsResult<Series> {
        let name: PlSmallStr = name.into();
        Ok(match self {
            Buf::Str(b) => Series::new(name, b),
            Buf::Date(b) => Series::new(name, b).cast(&DataType::Date)?,
            Buf::Ts(b) => Series::new(name, b).cast(&timestamp_type())?,
            Buf::F64(b) => Series::new(name, b),
            Buf::I64(b) => Series::new(name, b),
            Buf::Bool(b) => Series::new(name, b),
        })
    }
}

pub fn timestamp_type() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

/// Rejected (or flagged) records, as they go into the `rejects` table.
#[derive(Debug, Default)]
pub struct Rejects {
    pub table: Vec<String>,
    pub source_file: Vec<String>,
    pub record_number: Vec<i64>,
    pub raw_record: Vec<String>,
    pub reason: Vec<String>,
    /// True for a flagged record that was loaded all the same.
    pub kept: Vec<bool>,
    pub record_hash: Vec<i64>,
}

impl Rejects {
    pub fn into_frame(self, load_version: u64) -> PolarsResult<DataFrame> {
        let n = self.reason.len();
        let cols = vec![
            Series::new("table".into(), self.table).into_column(),
            Series::new("source_file".into(), self.source_file).into_column(),
            Series::new("record_number".into(), self.record_number).into_column(),
            Series::new("raw_record".into(), self.raw_record).into_column(),
            Series::new("reason".into(), self.reason).into_column(),
            Series::new("kept".into(), self.kept).into_column(),
            Series::new("record_hash".into(), self.record_hash).into_column(),
            Series::new("load_version".into(), vec![load_version as i64; n]).into_column(),
        ];
        DataFrame::new(n, cols)
    }
}

/// Keyed pseudonymisation of personal fields (DATA-CONTRACT.md "Privacy").
#[derive(Clone)]
pub struct Pseudonymizer {
    key: [u8; 32],
    pub columns: Vec<String>,
}

impl Pseudonymizer {
    pub fn new(secret: &str, columns: Vec<String>) -> Pseudonymizer {
        Pseudonymizer {
            key: blake3::derive_key("crm pseudonymisation v1", secret.as_bytes()),
            columns,
        }
    }

    pub fn apply(&self, value: &str) -> String {
        // Normalised first so that the same e-mail written twice joins.
        let norm = value.trim().to_lowercase();
        let h = blake3::keyed_hash(&self.key, norm.as_bytes());
        format!("ps_{}", &h.to_hex()[..24])
    }
}

/// Turns the records of one export into canonical rows of one table.
pub struct TableLoader<'a> {
    table: Table,
    specs: &'static [ColumnSpec],
    /// Canonical column -> export column name.
    mapping: &'a std::collections::BTreeMap<String, String>,
    formats: TimeFormats,
    pseudonymizer: Option<&'a Pseudonymizer>,
    source_file: String,
    known: &'a mut KnownIds,
    // Per header: canonical column i -> index in the record; export columns kept as attributes.
    positions: Vec<Option<usize>>,
    extras: Vec<(usize, String)>,
    header: Vec<String>,
    header_len: usize,
    header_checked: bool,
    // Output.
    bufs: Vec<Buf>,
    attributes: Vec<Option<String>>,
    record_hash: Vec<i64>,
    source_record: Vec<i64>,
    /// Row index in `bufs` of an id loaded from this export (a later copy replaces a customer).
    loaded_at: FxHashMap<String, usize>,
    /// Identical records seen so far, for derived ids: content hash -> occurrences.
    occurrences: FxHashMap<[u8; 16], u32>,
    superseded: Vec<bool>,
    pub rejects: Rejects,
    pub stats: FileStats,
}

impl<'a> TableLoader<'a> {
    pub fn new(
        table: Table,
        mapping: &'a std::collections::BTreeMap<String, String>,
        formats: TimeFormats,
        pseudonymizer: Option<&'a Pseudonymizer>,
        source_file: String,
        known: &'a mut KnownIds,
    ) -> TableLoader<'a> {
        let specs = schema::columns(table);
        TableLoader {
            table,
            specs,
            mapping,
            formats,
            pseudonymizer,
            source_file,
            known,
            positions: Vec::new(),
            extras: Vec::new(),
            header: Vec::new(),
            header_len: 0,
            header_checked: false,
            bufs: specs.iter().map(|s| Buf::for_kind(s.kind)).collect(),
            attributes: Vec::new(),
            record_hash: Vec::new(),
            source_record: Vec::new(),
            loaded_at: FxHashMap::default(),
            occurrences: FxHashMap::default(),
            superseded: Vec::new(),
            rejects: Rejects::default(),
            stats: FileStats {
                table: table.name().into(),
                ..Default::default()
            },
        }
    }

    fn export_name<'s>(&'s self, spec: &'s ColumnSpec) -> &'s str {
        self.mapping
            .get(spec.name)
            .map(String::as_str)
            .unwrap_or(spec.name)
    }

    /// The raw text kept for a rejected record. With pseudonymisation on, personal fields are
    /// hashed in it too: the record is kept as a JSON object of its fields.
    fn raw_text(&self, rec: &Record) -> String {
        let Some(p) = self.pseudonymizer else {
            return rec.raw.clone();
        };
        let personal: Vec<&str> = self
            .specs
            .iter()
            .filter(|s| p.columns.iter().any(|c| c == s.name))
            .map(|s| self.export_name(s))
            .collect();
        let mut map = serde_json::Map::new();
        for (i, v) in rec.values.iter().enumerate() {
            let name = self
                .header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("field_{}", i + 1));
            let hide = personal.contains(&name.as_str()) || p.columns.contains(&name);
            let v = match v {
                Some(v) if hide => serde_json::Value::String(p.apply(v)),
                Some(v) => serde_json::Value::String(v.clone()),
                None => serde_json::Value::Null,
            };
            map.insert(name, v);
        }
        serde_json::Value::Object(map).to_string()
    }

    fn reject(&mut self, rec: &Record, reason: String, kept: bool) {
        let kind = reason_kind(&reason);
        if !kept {
            self.stats.rejected += 1;
            *self.stats.reasons.entry(kind).or_default() += 1;
        }
        let mut h = blake3::Hasher::new();
        h.update(self.table.name().as_bytes());
        h.update(b"\x1f");
        let raw = self.raw_text(rec);
        h.update(raw.as_bytes());
        h.update(b"\x1f");
        h.update(reason.as_bytes());
        self.rejects.table.push(self.table.name().into());
        self.rejects.source_file.push(self.source_file.clone());
        self.rejects.record_number.push(rec.number as i64);
        self.rejects.raw_record.push(raw);
        self.rejects.reason.push(reason);
        self.rejects.kept.push(kept);
        self.rejects
            .record_hash
            .push(hash64(h.finalize().as_bytes()));
    }

    /// The canonical rows loaded from this export, ready to write.
    pub fn into_frame(self, load_version: u64) -> Result<(DataFrame, Rejects, FileStats)> {
        let keep: Vec<bool> = self.superseded.iter().map(|s| !s).collect();
        let n = self.source_record.len();
        let mut cols = Vec::with_capacity(self.specs.len() + 4);
        for (spec, buf) in self.specs.iter().zip(self.bufs) {
            cols.push(buf.into_series(spec.name)?.into_column());
        }
        cols.push(Series::new("attributes".into(), self.attributes).into_column());
        cols.push(Series::new("record_hash".into(), self.record_hash).into_column());
        cols.push(
            Series::new("source_file".into(), vec![self.source_file.clone(); n]).into_column(),
        );
        cols.push(Series::new("source_record".into(), self.source_record).into_column());
        cols.push(Series::new("load_version".into(), vec![load_version as i64; n]).into_column());
        let mut df = DataFrame::new(n, cols)?;
        if keep.iter().any(|k| !k) {
            df = df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
        }
        Ok((df, self.rejects, self.stats))
    }
}

impl Sink for TableLoader<'_> {
    fn header(&mut self, names: &[String]) -> Result<()> {
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        self.positions = self
            .specs
            .iter()
            .map(|s| index.get(self.export_name(s)).copied())
            .collect();
        let mapped: std::collections::HashSet<usize> =
            self.positions.iter().flatten().copied().collect();
        self.extras = names
            .iter()
            .enumerate()
            .filter(|(i, _)| !mapped.contains(i))
            .map(|(i, n)| (i, n.clone()))
            .collect();
        self.header_len = names.len();
        self.header = names.to_vec();
        Ok(())
    }

    fn record(&mut self, rec: Record) -> Result<()> {
        // A file whose header lacks a required column is a mapping error, not a bad row.
        if !self.header_checked && (self.header_len > 0 || !rec.values.is_empty()) {
            self.header_checked = true;
            let missing: Vec<String> = self
                .specs
                .iter()
                .zip(&self.positions)
                .filter(|(s, p)| s.required && p.is_none())
                .map(|(s, _)| {
                    let export = self.export_name(s);
                    if export == s.name {
                        s.name.to_string()
                    } else {
                        format!("{} (mapped from {export:?})", s.name)
                    }
                })
                .collect();
            if !missing.is_empty() {
                return Err(Error::source(
                    &self.source_file,
                    format!(
                        "no column for required field(s) {} in the {} export; map them in [sources.*.columns]",
                        missing.join(", "),
                        self.table.name()
                    ),
                ));
            }
        }
        self.stats.read += 1;
        if let Some(problem) = &rec.problem {
            self.reject(&rec, problem.clone(), false);
            return Ok(());
        }
        let mut values = Vec::with_capacity(self.specs.len());
        let mut reasons = Vec::new();
        for (spec, pos) in self.specs.iter().zip(&self.positions) {
            let raw = pos
                .and_then(|p| rec.values.get(p))
                .and_then(|v| v.as_deref());
            match schema::parse_value(spec, raw, &self.formats) {
                Ok(Value::Str(s)) if self.is_personal(spec.name) => values.push(Value::Str(
                    self.pseudonymizer.expect("is_personal").apply(&s),
                )),
                Ok(v) => values.push(v),
                Err(reason) => {
                    reasons.push(reason);
                    values.push(Value::Null);
                }
            }
        }
        if !reasons.is_empty() {
            self.reject(&rec, reasons.join("; "), false);
            return Ok(());
        }
        let attributes = self.attributes_of(&rec);
        let mut text = String::new();
        for (spec, v) in self.specs.iter().zip(&values) {
            if spec.name == schema::id_column(self.table) {
                continue;
            }
            v.canonical_text(&mut text);
            text.push('\x1f');
        }
        if let Some(a) = &attributes {
            text.push_str(a);
        }
        let content = blake3::hash(text.as_bytes());
        let record_hash = hash64(content.as_bytes());

        let id_pos = self
            .specs
            .iter()
            .position(|s| s.name == schema::id_column(self.table))
            .expect("id column");
        let id = match &values[id_pos] {
            Value::Str(s) => s.clone(),
            _ => {
                // DATA-CONTRACT.md: a stable hash of the record's content and its occurrence
                // number among identical records of the export, so re-loading under any file
                // name gives the same ids.
                let key: [u8; 16] = content.as_bytes()[..16].try_into().expect("16 bytes");
                let occ = self.occurrences.entry(key).or_insert(0);
                *occ += 1;
                let mut h = blake3::Hasher::new();
                h.update(content.as_bytes());
                h.update(&occ.to_le_bytes());
                let id = format!("tx_{}", &h.finalize().to_hex()[..24]);
                values[id_pos] = Value::Str(id.clone());
                id
            }
        };

        match self.known.get(&id).copied() {
            Some(h) if h == record_hash => {
                self.stats.duplicates += 1;
                return Ok(());
            }
            Some(_) if self.table != Table::Customers => {
                let id_col = schema::id_column(self.table);
                self.reject(
                    &rec,
                    format!("duplicate {id_col} {id:?} with different content"),
                    false,
                );
                return Ok(());
            }
            _ => {}
        }
        // A customer seen again updates the row: the earlier copy from this export is superseded.
        if let Some(&row) = self.loaded_at.get(&id) {
            self.superseded[row] = true;
            self.stats.loaded -= 1;
            self.stats.duplicates += 1;
        }
        if let Some(flag) = &rec.flag {
            self.reject(&rec, flag.clone(), true);
            self.stats.flagged += 1;
        }
        self.known.insert(id.clone(), record_hash);
        self.loaded_at.insert(id, self.source_record.len());
        for (buf, v) in self.bufs.iter_mut().zip(values) {
            buf.push(v);
        }
        self.attributes.push(attributes);
        self.record_hash.push(record_hash);
        self.source_record.push(rec.number as i64);
        self.superseded.push(false);
        self.stats.loaded += 1;
        Ok(())
    }
}

impl TableLoader<'_> {
    fn is_personal(&self, column: &str) -> bool {
        self.pseudonymizer
            .is_some_and(|p| p.columns.iter().any(|c| c == column))
    }

    /// Export columns with no canonical name, kept as a JSON object (never dropped).
    fn attributes_of(&self, rec: &Record) -> Option<String> {
        let mut map = serde_json::Map::new();
        for (i, name) in &self.extras {
            if let Some(Some(v)) = rec.values.get(*i) {
                if v.trim().is_empty() {
                    continue;
                }
                let v = if self.is_personal(name) {
                    self.pseudonymizer.expect("is_personal").apply(v)
                } else {
                    v.clone()
                };
                map.insert(name.clone(), serde_json::Value::String(v));
            }
        }
        (!map.is_empty()).then(|| serde_json::Value::Object(map).to_string())
    }
}

pub fn hash64(bytes: &[u8]) -> i64 {
    i64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// The kind of a reason, for counting: the text before the value it quotes.
pub fn reason_kind(reason: &str) -> String {
    reason
        .split("; ")
        .map(|r| {
            let r = r.split(": ").next().unwrap_or(r);
            r.split(" \"").next().unwrap_or(r).to_string()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_kinds_drop_the_values() {
        assert_eq!(
            reason_kind("unparsable number in amount: \"abc\""),
            "unparsable number in amount"
        );
        assert_eq!(
            reason_kind("wrong field count: expected 3, found 2"),
            "wrong field count"
        );
        assert_eq!(
            reason_kind("missing required field customer_id; unparsable date in ts: \"x\""),
            "missing required field customer_id; unparsable date in ts"
        );
        assert_eq!(
            reason_kind("duplicate transaction_id \"t1\" with different content"),
            "duplicate transaction_id"
        );
    }

    #[test]
    fn pseudonyms_are_keyed_and_normalised() {
        let a = Pseudonymizer::new("k1", vec![]);
        let b = Pseudonymizer::new("k2", vec![]);
        assert_eq!(a.apply("Ann@Example.com "), a.apply("ann@example.com"));
        assert_ne!(a.apply("ann@example.com"), b.apply("ann@example.com"));
        assert!(!a.apply("ann@example.com").contains("ann"));
    }
}
