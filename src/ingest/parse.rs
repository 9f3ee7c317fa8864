//! The first stage of validating export records, shared by the worker threads: [`RowParser`]
//! maps a record's fields to canonical columns, parses each value, hashes the record and
//! appends it to a [`Batch`] (column builders: no string is allocated per field), or records why
//! it is rejected. The second stage, in file order, is `load.rs`'s `Merger`.

use std::borrow::Cow;

use polars::prelude::*;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::idmap::IdKey;
use super::schema::{self, ColumnSpec, Kind, TimeFormats, Value};
use super::strings::StrColumn;
use crate::config::Table;
use crate::error::{Error, Result};
use crate::warehouse::RecordHash;

/// One canonical column being built.
pub(super) enum Col {
    Str(StrColumn),
    Date(PrimitiveChunkedBuilder<Int32Type>),
    Ts(PrimitiveChunkedBuilder<Int64Type>),
    F64(PrimitiveChunkedBuilder<Float64Type>),
    I64(PrimitiveChunkedBuilder<Int64Type>),
    Bool(BooleanChunkedBuilder),
}

impl Col {
    fn for_kind(name: &str, kind: Kind, capacity: usize) -> Col {
        let name: PlSmallStr = name.into();
        match kind {
            Kind::Str | Kind::Enum(_) => Col::Str(StrColumn::new(name, capacity)),
            Kind::Date => Col::Date(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Timestamp => Col::Ts(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Decimal => Col::F64(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Int | Kind::Score(..) => Col::I64(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Bool => Col::Bool(BooleanChunkedBuilder::new(name, capacity)),
        }
    }

    fn push(&mut self, v: &Value) {
        match (self, v) {
            (Col::Str(b), Value::Str(s)) => b.push_value(s),
            (Col::Str(b), Value::Null) => b.push_null(),
            (Col::Date(b), Value::Date(d)) => b.append_value(*d),
            (Col::Date(b), Value::Null) => b.append_null(),
            (Col::Ts(b), Value::Timestamp(t)) => b.append_value(*t),
            (Col::Ts(b), Value::Null) => b.append_null(),
            (Col::F64(b), Value::F64(f)) => b.append_value(*f),
            (Col::F64(b), Value::Null) => b.append_null(),
            (Col::I64(b), Value::I64(i)) => b.append_value(*i),
            (Col::I64(b), Value::Null) => b.append_null(),
            (Col::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Col::Bool(b), Value::Null) => b.append_null(),
            (_, v) => unreachable!("value {v:?} does not fit its column"),
        }
    }

    pub(super) fn finish(self) -> PolarsResult<Series> {
        Ok(match self {
            Col::Str(b) => b.finish().into_series(),
            Col::Date(b) => b.finish().into_date().into_series(),
            // Built as the logical type directly: a cast of an all-null column loses the zone.
            Col::Ts(b) => b
                .finish()
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_series(),
            Col::F64(b) => b.finish().into_series(),
            Col::I64(b) => b.finish().into_series(),
            Col::Bool(b) => b.finish().into_series(),
        })
    }
}

pub fn timestamp_type() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

/// A rejected (or flagged) record, as it goes into the `rejects` table.
#[derive(Debug)]
pub struct RejectRow {
    pub record_number: u64,
    pub raw_record: String,
    pub reason: String,
    /// True for a flagged record that was loaded all the same.
    pub kept: bool,
}

/// The rejects of one export.
#[derive(Debug)]
pub struct Rejects {
    pub table: Table,
    pub source_file: String,
    pub rows: Vec<RejectRow>,
}

impl Rejects {
    /// In file order, whichever stage found them.
    pub fn into_frame(mut self, load_version: u64) -> PolarsResult<DataFrame> {
        self.rows.sort_by_key(|r| r.record_number);
        let n = self.rows.len();
        let hashes: Vec<i64> = self
            .rows
            .iter()
            .map(|r| {
                let mut h = blake3::Hasher::new();
                h.update(self.table.name().as_bytes());
                h.update(b"\x1f");
                h.update(r.raw_record.as_bytes());
                h.update(b"\x1f");
                h.update(r.reason.as_bytes());
                hash64(h.finalize().as_bytes())
            })
            .collect();
        let numbers: Vec<i64> = self.rows.iter().map(|r| r.record_number as i64).collect();
        let kept: Vec<bool> = self.rows.iter().map(|r| r.kept).collect();
        let (raw, reason): (Vec<String>, Vec<String>) = self
            .rows
            .into_iter()
            .map(|r| (r.raw_record, r.reason))
            .unzip();
        let cols = vec![
            StringChunked::full("table".into(), self.table.name(), n).into_column(),
            StringChunked::full("source_file".into(), &self.source_file, n).into_column(),
            Series::new("record_number".into(), numbers).into_column(),
            Series::new("raw_record".into(), raw).into_column(),
            Series::new("reason".into(), reason).into_column(),
            Series::new("kept".into(), kept).into_column(),
            Series::new("record_hash".into(), hashes).into_column(),
            Int64Chunked::full("load_version".into(), load_version as i64, n).into_column(),
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

    fn covers(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }
}

/// How one source's exports map onto a canonical table.
pub struct Spec<'a> {
    pub table: Table,
    /// Canonical column -> export column name.
    pub mapping: &'a std::collections::BTreeMap<String, String>,
    pub formats: TimeFormats,
    pub pseudonymizer: Option<&'a Pseudonymizer>,
    /// How the warehouse hashes a record's content.
    pub record_hash: RecordHash,
}

impl Spec<'_> {
    fn export_name<'s>(&'s self, spec: &'s ColumnSpec) -> &'s str {
        self.mapping
            .get(spec.name)
            .map(String::as_str)
            .unwrap_or(spec.name)
    }
}

/// A record's fields turned into canonical rows, for one header. Shared by the worker threads.
pub struct RowParser<'a> {
    spec: &'a Spec<'a>,
    specs: &'static [ColumnSpec],
    header: Vec<String>,
    /// Canonical column i -> index of its field in the record.
    positions: Vec<Option<usize>>,
    /// Export columns with no canonical name, kept as attributes: index, name, personal.
    extras: Vec<(usize, String, bool)>,
    /// Canonical column i is personal data to pseudonymise.
    personal: Vec<bool>,
    id_pos: usize,
}

impl<'a> RowParser<'a> {
    pub fn new(spec: &'a Spec<'a>, header: &[String]) -> RowParser<'a> {
        let specs = schema::columns(spec.table);
        let index: std::collections::HashMap<&str, usize> = header
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let positions: Vec<Option<usize>> = specs
            .iter()
            .map(|s| index.get(spec.export_name(s)).copied())
            .collect();
        let mapped: std::collections::HashSet<usize> =
            positions.iter().flatten().copied().collect();
        let covers = |name: &str| spec.pseudonymizer.is_some_and(|p| p.covers(name));
        let extras = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !mapped.contains(i))
            .map(|(i, n)| (i, n.clone(), covers(n)))
            .collect();
        let id_column = schema::id_column(spec.table);
        RowParser {
            spec,
            specs,
            header: header.to_vec(),
            positions,
            extras,
            personal: specs.iter().map(|s| covers(s.name)).collect(),
            id_pos: specs
                .iter()
                .position(|s| s.name == id_column)
                .expect("id column"),
        }
    }

    /// A header that lacks a required column is a mapping error, not a file of bad rows.
    pub fn check_required(&self, source_file: &str) -> Result<()> {
        let missing: Vec<String> = self
            .specs
            .iter()
            .zip(&self.positions)
            .filter(|(s, p)| s.required && p.is_none())
            .map(|(s, _)| {
                let export = self.spec.export_name(s);
                if export == s.name {
                    s.name.to_string()
                } else {
                    format!("{} (mapped from {export:?})", s.name)
                }
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::source(
            source_file,
            format!(
                "no column for required field(s) {} in the {} export; map them in [sources.*.columns]",
                missing.join(", "),
                self.spec.table.name()
            ),
        ))
    }

    /// The raw text kept for a rejected record: `plain` (the record as the file has it), or with
    /// pseudonymisation on, a JSON object of its fields with the personal ones hashed.
    pub fn raw_text(&self, fields: &[Option<&str>], plain: &dyn Fn() -> String) -> String {
        let Some(p) = self.spec.pseudonymizer else {
            return plain();
        };
        let personal: Vec<&str> = self
            .specs
            .iter()
            .filter(|s| p.covers(s.name))
            .map(|s| self.spec.export_name(s))
            .collect();
        let mut map = serde_json::Map::new();
        for (i, v) in fields.iter().enumerate() {
            let name = self
                .header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("field_{}", i + 1));
            let hide = personal.contains(&name.as_str()) || p.covers(&name);
            let v = match v {
                Some(v) if hide => serde_json::Value::String(p.apply(v)),
                Some(v) => serde_json::Value::String(v.to_string()),
                None => serde_json::Value::Null,
            };
            map.insert(name, v);
        }
        serde_json::Value::Object(map).to_string()
    }

    /// The raw text kept for a record that could not be read as fields of the header (a ragged
    /// line, invalid JSON): with pseudonymisation on, no field can be trusted to be where the
    /// header says (an unquoted comma in a name moves the e-mail one column on), so every
    /// field is hashed, and a record with no fields at all is hashed whole.
    pub fn unreadable_raw_text(
        &self,
        fields: &[Option<&str>],
        plain: &dyn Fn() -> String,
    ) -> String {
        let Some(p) = self.spec.pseudonymizer else {
            return plain();
        };
        let value = if fields.is_empty() {
            serde_json::json!({ "unreadable_record": p.apply(&plain()) })
        } else {
            let hashed: Vec<serde_json::Value> = fields
                .iter()
                .map(|f| match f {
                    Some(v) => serde_json::Value::String(p.apply(v)),
                    None => serde_json::Value::Null,
                })
                .collect();
            serde_json::json!({ "unreadable_record_fields": hashed })
        };
        value.to_string()
    }

    /// Export columns with no canonical name, kept as a JSON object (never dropped).
    fn attributes_of(&self, fields: &[Option<&str>]) -> Option<String> {
        let mut map = serde_json::Map::new();
        for (i, name, personal) in &self.extras {
            if let Some(Some(v)) = fields.get(*i) {
                if v.trim().is_empty() {
                    continue;
                }
                let v = match self.spec.pseudonymizer {
                    Some(p) if *personal => p.apply(v),
                    _ => v.to_string(),
                };
                map.insert(name.clone(), serde_json::Value::String(v));
            }
        }
        (!map.is_empty()).then(|| serde_json::Value::Object(map).to_string())
    }

    /// An empty batch for this table.
    pub fn batch(&self, capacity: usize, raws: Raws) -> Batch {
        Batch {
            cols: self
                .specs
                .iter()
                .map(|s| Col::for_kind(s.name, s.kind, capacity))
                .collect(),
            attributes: Vec::with_capacity(capacity),
            record_hash: Vec::with_capacity(capacity),
            source_record: Vec::with_capacity(capacity),
            keys: Vec::with_capacity(capacity),
            derived: Vec::new(),
            occurrences: FxHashMap::default(),
            flags: Vec::new(),
            rejects: Vec::new(),
            read: 0,
            raws,
            text: String::new(),
        }
    }

    /// One record into the batch: appended as a row, or rejected with its reason. `plain` gives
    /// the record's raw text, asked for only when it is needed. `problem`: the record could not
    /// be read as fields; `flag`: loaded with a caveat.
    pub fn parse(
        &self,
        b: &mut Batch,
        number: u64,
        fields: &[Option<&str>],
        plain: &dyn Fn() -> String,
        problem: Option<String>,
        flag: Option<String>,
    ) {
        b.read += 1;
        if let Some(problem) = problem {
            b.reject(
                number,
                self.unreadable_raw_text(fields, plain),
                problem,
                false,
            );
            return;
        }
        let mut values: SmallVec<[Value; 16]> = SmallVec::new();
        let mut reasons: Vec<String> = Vec::new();
        for (i, (spec, pos)) in self.specs.iter().zip(&self.positions).enumerate() {
            let raw = pos.and_then(|p| fields.get(p).copied().flatten());
            match schema::parse_value(spec, raw, &self.spec.formats) {
                Ok(Value::Str(s)) if self.personal[i] => {
                    let p = self
                        .spec
                        .pseudonymizer
                        .expect("personal implies pseudonymizer");
                    values.push(Value::Str(Cow::Owned(p.apply(&s))));
                }
                Ok(v) => values.push(v),
                Err(reason) => {
                    reasons.push(reason);
                    values.push(Value::Null);
                }
            }
        }
        if !reasons.is_empty() {
            b.reject(
                number,
                self.raw_text(fields, plain),
                reasons.join("; "),
                false,
            );
            return;
        }
        let attributes = self.attributes_of(fields);
        b.text.clear();
        for (i, v) in values.iter().enumerate() {
            if i == self.id_pos {
                continue;
            }
            v.canonical_text(&mut b.text);
            b.text.push('\x1f');
        }
        if let Some(a) = &attributes {
            b.text.push_str(a);
        }
        let row = b.record_hash.len();
        let record_hash = self.spec.record_hash.of(b.text.as_bytes());
        match &values[self.id_pos] {
            Value::Str(id) => b.keys.push(IdKey::of(id)),
            _ => {
                let content = blake3::hash(b.text.as_bytes());
                // DATA-CONTRACT.md: a stable hash of the record's content and its occurrence
                // number among identical records of the export, so re-loading under any file
                // name gives the same ids. Counted here within the batch; the merger adds the
                // occurrences in earlier batches.
                let content: [u8; 32] = *content.as_bytes();
                let key: [u8; 16] = content[..16].try_into().expect("16 bytes");
                let occ = b.occurrences.entry(key).or_insert(0);
                *occ += 1;
                let id = derived_id(&content, *occ);
                b.keys.push(IdKey::of(&id));
                b.derived.push(Derived {
                    row,
                    content,
                    occurrence: *occ,
                });
                values[self.id_pos] = Value::Str(Cow::Owned(id));
            }
        }
        if let Some(flag) = flag {
            let raw = self.raw_text(fields, plain);
            b.flags.push((row, flag, raw));
        }
        for (col, v) in b.cols.iter_mut().zip(&values) {
            col.push(v);
        }
        b.attributes.push(attributes);
        b.record_hash.push(record_hash);
        b.source_record.push(number as i64);
        if let Raws::Stored(raws) = &mut b.raws {
            raws.push(self.raw_text(fields, plain));
        }
    }
}

/// The record written back as one CSV line with the source's delimiter and quoting.
pub fn raw_csv(fields: &[String], delim: u8, quote: u8) -> String {
    let mut out = String::new();
    let q = quote as char;
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(delim as char);
        }
        if f.bytes()
            .any(|b| b == delim || b == quote || b == b'\n' || b == b'\r')
        {
            out.push(q);
            out.push_str(&f.replace(q, &format!("{q}{q}")));
            out.push(q);
        } else {
            out.push_str(f);
        }
    }
    out
}

pub(super) fn derived_id(content: &[u8; 32], occurrence: u32) -> String {
    let mut h = blake3::Hasher::new();
    h.update(content);
    h.update(&occurrence.to_le_bytes());
    format!("tx_{}", &h.finalize().to_hex()[..24])
}

/// How to get back the raw text of a row the merger rejects.
pub enum Raws {
    /// A chunk of a CSV file and where each appended row's record starts in it.
    Csv {
        bytes: Vec<u8>,
        starts: Vec<u32>,
        delimiter: u8,
        quote: u8,
    },
    /// The raw text of every appended row (JSON Lines and Parquet sources).
    Stored(Vec<String>),
}

pub(super) struct Derived {
    pub(super) row: usize,
    pub(super) content: [u8; 32],
    pub(super) occurrence: u32,
}

/// Rows parsed from consecutive records of one export, not yet checked against the records
/// before them.
pub struct Batch {
    pub(super) cols: Vec<Col>,
    pub(super) attributes: Vec<Option<String>>,
    pub(super) record_hash: Vec<i64>,
    pub(super) source_record: Vec<i64>,
    pub(super) keys: Vec<IdKey>,
    pub(super) derived: Vec<Derived>,
    pub(super) occurrences: FxHashMap<[u8; 16], u32>,
    /// Row, flag, raw text.
    pub(super) flags: Vec<(usize, String, String)>,
    pub(super) rejects: Vec<RejectRow>,
    pub(super) read: u64,
    pub raws: Raws,
    pub(super) text: String,
}

impl Batch {
    pub fn rows(&self) -> usize {
        self.record_hash.len()
    }

    /// Records read into this batch, loaded or not.
    pub fn read(&self) -> u64 {
        self.read
    }

    fn reject(&mut self, number: u64, raw: String, reason: String, kept: bool) {
        self.rejects.push(RejectRow {
            record_number: number,
            raw_record: raw,
            reason,
            kept,
        });
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
