//! The parsing of one export value into a canonical value of its column (with the reason when
//! it cannot be parsed). The columns themselves are the warehouse's contract
//! (`warehouse::tables`), re-exported here for the ingest code that walks them.
//!
//! About 920 lines, 350 of them tests: the value parsers (text, numbers, dates, timestamps in
//! fixed layouts read in place, enums) with the edge cases that pin each fast path to the slow one.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

pub use crate::warehouse::tables::{
    CHANNELS, CUSTOMERS, ColumnSpec, INTERACTION_KINDS, INTERACTIONS, Kind, TRANSACTIONS,
    canonical_names, columns, id_column, is_canonical,
};

/// One parsed export value. Text borrows from the record where it can: a load of ten million
/// records allocates no string per field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    F64(f64),
    I64(i64),
    Bool(bool),
}

impl Value<'_> {
    /// A stable text form, used for record hashes and derived ids. It must never change: the
    /// record hashes of rows already in a warehouse were computed from it. Numbers go through
    /// itoa and ryu (the formatter was a tenth of a load), in the exact text of Rust's `{}` for
    /// integers and `{:?}` for floats; the test below holds the two to each other.
    pub fn canonical_text(&self, out: &mut String) {
        match self {
            Value::Null => {}
            Value::Str(s) => out.push_str(s),
            Value::Date(d) => {
                out.push('d');
                out.push_str(itoa::Buffer::new().format(*d));
            }
            Value::Timestamp(t) => {
                out.push('t');
                out.push_str(itoa::Buffer::new().format(*t));
            }
            Value::F64(f) => push_f64(out, *f),
            Value::I64(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
}

/// `{f:?}`'s text. ryu writes the same shortest digits in plain decimal notation for magnitudes
/// from 1e-4 to below 1e9 (and zero): every amount and quantity. Outside that the two switch to
/// exponents at other points, and near 1e15 they break ties between two shortest texts
/// differently, so those values take the formatter.
fn push_f64(out: &mut String, f: f64) {
    let a = f.abs();
    if push_cents(out, f) {
        return;
    }
    if f.is_finite() && (a == 0.0 || (1e-4..1e9).contains(&a)) {
        out.push_str(ryu::Buffer::new().format_finite(f));
    } else {
        use std::fmt::Write;
        write!(out, "{f:?}").expect("writing to a String");
    }
}

/// `{f:?}`'s text of a nonzero amount of whole cents below 1e9 in magnitude (nearly every
/// amount an export holds), written from the integer number of cents: ryu was a sixth of the
/// record hash's text (perf, 10M lines). `f` is the double nearest `n / 100` (checked), and
/// doubles below 1e9 lie less than 1e-6 apart, so no decimal of fewer digits than `n / 100`'s
/// names the same double: those digits, without trailing zeros but with one after the point,
/// are the shortest text that reads back as `f`, which is what `{f:?}` writes. Returns false,
/// writing nothing, for any other value.
fn push_cents(out: &mut String, f: f64) -> bool {
    let c = (f * 100.0).round();
    if c.is_nan() || c.abs() >= 1e11 || c == 0.0 || c / 100.0 != f {
        return false;
    }
    let n = c as i64;
    if n < 0 {
        out.push('-');
    }
    let (units, cents) = (n.unsigned_abs() / 100, (n.unsigned_abs() % 100) as u8);
    out.push_str(itoa::Buffer::new().format(units));
    out.push('.');
    out.push((b'0' + cents / 10) as char);
    if cents % 10 != 0 {
        out.push((b'0' + cents % 10) as char);
    }
    true
}

/// How the source writes dates and times, with the formats parsed once (chrono would otherwise
/// parse the format string again for every value).
#[derive(Debug, Clone)]
pub struct TimeFormats {
    pub timestamp_format: Option<String>,
    pub date_format: Option<String>,
    pub timezone: Tz,
    timestamp_items: Option<Vec<Item<'static>>>,
    /// The timestamp format's fixed layout, where it has one.
    timestamp_layout: Option<FixedLayout>,
    date_items: Option<Vec<Item<'static>>>,
    /// Instants (UTC microseconds) a timestamp may take, `valid.0 <= t < valid.1`: the
    /// warehouse's plausible times (DATA-CONTRACT.md "Plausible times").
    pub valid: (i64, i64),
}

impl TimeFormats {
    /// A format chrono cannot read is a configuration error, reported by config validation;
    /// here such a format simply never matches.
    pub fn new(
        timestamp_format: Option<String>,
        date_format: Option<String>,
        timezone: Tz,
    ) -> Self {
        let compile = |f: &Option<String>| {
            f.as_deref()
                .and_then(|f| StrftimeItems::new(f).parse_to_owned().ok())
        };
        let timestamp_items = compile(&timestamp_format);
        TimeFormats {
            timestamp_layout: timestamp_items.as_deref().and_then(FixedLayout::of),
            timestamp_items,
            date_items: compile(&date_format),
            timestamp_format,
            date_format,
            timezone,
            valid: (i64::MIN, i64::MAX),
        }
    }

    /// Timestamps before `from` or from `until` on are rejected (UTC microseconds).
    pub fn valid_between(mut self, from: i64, until: i64) -> Self {
        self.valid = (from, until);
        self
    }
}

impl Default for TimeFormats {
    fn default() -> Self {
        TimeFormats::new(None, None, chrono_tz::UTC)
    }
}

/// A format of zero-padded numbers between fixed literals only (`%d.%m.%Y %H:%M`, `%Y-%m-%d
/// %H:%M:%S`, `%Y%m%d`): each of its fields is at the same place in every text, and is read
/// there without chrono's general parser, which was 5% of a 10M-line load's CPU (perf). A text
/// that does not fit the layout exactly (other widths, other spacing, an impossible date or a
/// leap second) is left to chrono, so every answer is the one chrono would give.
#[derive(Debug, Clone, PartialEq)]
struct FixedLayout {
    len: usize,
    /// Offset and bytes of each literal.
    literals: Vec<(usize, Vec<u8>)>,
    /// Offset, width and field of each number.
    numbers: Vec<(usize, usize, Field)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl FixedLayout {
    /// The layout of `items`, if they are a year, month and day (and an hour and minute,
    /// with or without seconds) as zero-padded numbers between literals.
    fn of(items: &[Item<'static>]) -> Option<FixedLayout> {
        use chrono::format::{Numeric, Pad};
        let mut layout = FixedLayout {
            len: 0,
            literals: Vec::new(),
            numbers: Vec::new(),
        };
        for item in items {
            let literal = match item {
                Item::Literal(s) | Item::Space(s) => Some(s.as_bytes().to_vec()),
                Item::OwnedLiteral(s) | Item::OwnedSpace(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            };
            if let Some(bytes) = literal {
                if bytes.is_empty() {
                    continue;
                }
                let len = bytes.len();
                layout.literals.push((layout.len, bytes));
                layout.len += len;
                continue;
            }
            let (field, width) = match item {
                Item::Numeric(n, Pad::Zero) => match n {
                    Numeric::Year => (Field::Year, 4),
                    Numeric::Month => (Field::Month, 2),
                    Numeric::Day => (Field::Day, 2),
                    Numeric::Hour => (Field::Hour, 2),
                    Numeric::Minute => (Field::Minute, 2),
                    Numeric::Second => (Field::Second, 2),
                    _ => return None,
                },
                _ => return None,
            };
            if layout.has(field) {
                return None;
            }
            layout.numbers.push((layout.len, width, field));
            layout.len += width;
        }
        let date = layout.has(Field::Year) && layout.has(Field::Month) && layout.has(Field::Day);
        let time = matches!(
            (
                layout.has(Field::Hour),
                layout.has(Field::Minute),
                layout.has(Field::Second),
            ),
            (false, false, false) | (true, true, _)
        );
        (date && time).then_some(layout)
    }

    fn has(&self, field: Field) -> bool {
        self.numbers.iter().any(|n| n.2 == field)
    }

    /// The wall-clock time `text` holds (midnight for a date), if it fits the layout exactly.
    fn read(&self, text: &str) -> Option<NaiveDateTime> {
        let bytes = text.as_bytes();
        if bytes.len() != self.len {
            return None;
        }
        for (at, literal) in &self.literals {
            if &bytes[*at..*at + literal.len()] != literal.as_slice() {
                return None;
            }
        }
        let (mut year, mut month, mut day) = (0, 0, 0);
        let (mut hour, mut minute, mut second) = (0, 0, 0);
        for &(at, width, field) in &self.numbers {
            let mut v: u32 = 0;
            for &b in &bytes[at..at + width] {
                if !b.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(b - b'0');
            }
            match field {
                Field::Year => year = v,
                Field::Month => month = v,
                Field::Day => day = v,
                Field::Hour => hour = v,
                Field::Minute => minute = v,
                Field::Second => second = v,
            }
        }
        NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, minute, second)
    }
}

/// The text parsed against compiled items; the caller decides what it must hold.
fn parsed(text: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, text, items.iter()).ok()?;
    Some(p)
}

struct Fallbacks {
    date: Vec<Item<'static>>,
    zoned: Vec<Vec<Item<'static>>>,
    naive: Vec<Vec<Item<'static>>>,
}

static FALLBACKS: LazyLock<Fallbacks> = LazyLock::new(|| {
    let c = |f: &str| {
        StrftimeItems::new(f)
            .parse_to_owned()
            .expect("static format")
    };
    Fallbacks {
        date: c("%Y-%m-%d"),
        zoned: [
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
        ]
        .into_iter()
        .map(c)
        .collect(),
        naive: NAIVE_TS_FORMATS.iter().map(|f| c(f)).collect(),
    }
});

const EPOCH_DAYS_CE: i32 = 719_163;

fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - EPOCH_DAYS_CE
}

/// Parse one export value. `None` input or blank text is Null; the error is the reason a
/// rejects row carries. Inlined into the load's parse loop, so that a value is built where
/// the loop keeps it: returned through memory, its copy stalled on the stores that wrote it
/// (perf: a third of the parse loop's own samples).
#[inline(always)]
pub fn parse_value<'a>(
    spec: &ColumnSpec,
    raw: Option<&'a str>,
    formats: &TimeFormats,
) -> Result<Value<'a>, String> {
    let text = match raw.map(trimmed) {
        None | Some("") => {
            return if spec.required {
                Err(format!("missing required field {}", spec.name))
            } else {
                Ok(Value::Null)
            };
        }
        Some(t) => t,
    };
    let bad = |what: &str| format!("unparsable {what} in {}: {:?}", spec.name, clip(text));
    match spec.kind {
        Kind::Str if !spec.name.ends_with("_id") => Ok(Value::Str(Cow::Borrowed(text))),
        Kind::Str => id_value(spec.name, text),
        Kind::Decimal => match text.parse::<f64>() {
            Ok(f) if f.abs() < MAX_AMOUNT => Ok(Value::F64(f)),
            Ok(f) if f.is_finite() => Err(format!(
                "{} out of range: {:?} (at most {MAX_AMOUNT:e} in magnitude)",
                spec.name,
                clip(text)
            )),
            _ => Err(bad("number")),
        },
        Kind::Int => parse_int(text)
            .map(Value::I64)
            .ok_or_else(|| bad("integer")),
        Kind::Score(lo, hi) => {
            let v = parse_int(text).ok_or_else(|| bad("score"))?;
            if (lo..=hi).contains(&v) {
                Ok(Value::I64(v))
            } else {
                Err(format!("{} out of range {lo}..{hi}: {v}", spec.name))
            }
        }
        Kind::Bool => {
            let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(text));
            if is(&["true", "t", "yes", "y", "1"]) {
                Ok(Value::Bool(true))
            } else if is(&["false", "f", "no", "n", "0"]) {
                Ok(Value::Bool(false))
            } else {
                Err(bad("boolean"))
            }
        }
        Kind::Enum(allowed) => {
            if allowed.contains(&text) {
                return Ok(Value::Str(Cow::Borrowed(text)));
            }
            let v = text.to_ascii_lowercase().replace(['-', ' '], "_");
            if allowed.contains(&v.as_str()) {
                Ok(Value::Str(Cow::Owned(v)))
            } else {
                Err(format!(
                    "invalid value in {}: {:?} (expected one of {})",
                    spec.name,
                    clip(text),
                    allowed.join(", ")
                ))
            }
        }
        Kind::Date => parse_date(text, formats)
            .map(Value::Date)
            .ok_or_else(|| bad("date")),
        Kind::Timestamp => match parse_timestamp(text, formats) {
            Some(t) if t >= formats.valid.0 && t < formats.valid.1 => Ok(Value::Timestamp(t)),
            Some(t) => Err(out_of_range(spec.name, text, t, formats.valid)),
            None => Err(bad("date")),
        },
    }
}

/// An id's text, checked: an id is one line of text. A NUL byte would make two different ids
/// print alike; a line break is the mark of a quote left open in the export, which swallowed
/// the records after it into this field; an object or array is a JSON export's nested record.
/// One memchr3 pass over the id (ids are short), the reasons built only for a bad one.
#[inline(always)]
fn id_value<'a>(column: &str, text: &'a str) -> Result<Value<'a>, String> {
    let bytes = text.as_bytes();
    if let Some(at) = memchr::memchr3(0, b'\n', b'\r', bytes) {
        return Err(bad_id_byte(column, bytes[at]));
    }
    if matches!(bytes.first(), Some(b'{' | b'[')) && is_json_structure(text) {
        return Err(format!(
            "not an id in {column}: a JSON object or array: {:?}",
            clip(text)
        ));
    }
    Ok(Value::Str(Cow::Borrowed(text)))
}

/// Without the value: reasons reach reports.
#[cold]
fn bad_id_byte(column: &str, byte: u8) -> String {
    if byte == 0 {
        format!("NUL byte in {column}")
    } else {
        format!(
            "line break in {column}: an id is one line (a quote opened in the export and closed lines later?)"
        )
    }
}

/// The largest magnitude an amount may have: a trillion per line is beyond any order, and the
/// sums of hundreds of millions of lines stay exact to the cent well past it.
pub const MAX_AMOUNT: f64 = 1e12;

#[cold]
fn is_json_structure(text: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(text),
        Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_))
    )
}

/// The reason for a timestamp outside the warehouse's plausible times.
#[cold]
fn out_of_range(column: &str, text: &str, t: i64, valid: (i64, i64)) -> String {
    let day = |t: i64| {
        DateTime::<Utc>::from_timestamp_micros(t)
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    if t < valid.0 {
        format!(
            "{column} before the warehouse's earliest time: {:?} is before {} (warehouse.valid_from)",
            clip(text),
            day(valid.0)
        )
    } else {
        format!(
            "{column} after the load's time: {:?} is at or after {} (warehouse.future_days)",
            clip(text),
            day(valid.1)
        )
    }
}

/// `s` without leading and trailing whitespace, as [`str::trim`] gives it (Unicode's), but a
/// field that begins and ends with a visible ASCII character, nearly every field of an export,
/// is returned as it is without `trim`'s walk over its characters (2% of a 10M-line load's
/// samples, perf).
#[inline(always)]
fn trimmed(s: &str) -> &str {
    let visible = |b: u8| b > b' ' && b.is_ascii();
    match s.as_bytes() {
        [first, .., last] if visible(*first) && visible(*last) => s,
        [only] if visible(*only) => s,
        _ => s.trim(),
    }
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(i);
    }
    // "3.0" from spreadsheets: accept a whole number written as a decimal.
    let f = text.parse::<f64>().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

const NAIVE_TS_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

pub fn parse_date(text: &str, formats: &TimeFormats) -> Option<i32> {
    if let Some(items) = &formats.date_items
        && let Some(d) = parsed(text, items).and_then(|p| p.to_naive_date().ok())
    {
        return Some(date_to_days(d));
    }
    if let Some(d) = parsed(text, &FALLBACKS.date).and_then(|p| p.to_naive_date().ok()) {
        return Some(date_to_days(d));
    }
    // A timestamp where a date is expected: its calendar date in the source's zone.
    let micros = parse_timestamp(text, formats)?;
    let utc = DateTime::<Utc>::from_timestamp_micros(micros)?;
    Some(date_to_days(
        utc.with_timezone(&formats.timezone).date_naive(),
    ))
}

pub fn parse_timestamp(text: &str, formats: &TimeFormats) -> Option<i64> {
    let local = |naive: NaiveDateTime| -> Option<i64> {
        if formats.timezone == chrono_tz::UTC {
            return Some(naive.and_utc().timestamp_micros());
        }
        // A wall-clock time skipped by a DST change has no instant; an ambiguous one takes the
        // earlier instant, as most systems that wrote it did.
        formats
            .timezone
            .from_local_datetime(&naive)
            .earliest()
            .map(|dt| dt.timestamp_micros())
    };
    // The configured format: an instant when it carries an offset, else a wall-clock time,
    // else a date (midnight), in that order.
    if let Some(layout) = &formats.timestamp_layout
        && let Some(naive) = layout.read(text)
    {
        return local(naive);
    }
    if let Some(items) = &formats.timestamp_items
        && let Some(p) = parsed(text, items)
    {
        if let Ok(dt) = p.to_datetime() {
            return Some(dt.timestamp_micros());
        }
        if let Ok(n) = p.to_naive_datetime_with_offset(0) {
            return local(n);
        }
        if let Ok(d) = p.to_naive_date() {
            return local(d.and_hms_opt(0, 0, 0)?);
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_micros());
    }
    for items in &FALLBACKS.zoned {
        if let Some(dt) = parsed(text, items).and_then(|p| p.to_datetime().ok()) {
            return Some(dt.timestamp_micros());
        }
    }
    let naive = |body: &str| {
        FALLBACKS.naive.iter().find_map(|items| {
            parsed(body, items).and_then(|p| p.to_naive_datetime_with_offset(0).ok())
        })
    };
    let body = text.strip_suffix('Z').or_else(|| text.strip_suffix(" UTC"));
    if let Some(n) = body.and_then(naive) {
        return Some(n.and_utc().timestamp_micros());
    }
    if let Some(n) = naive(text) {
        return local(n);
    }
    if let Some(d) = parsed(text, &FALLBACKS.date).and_then(|p| p.to_naive_date().ok()) {
        return local(d.and_hms_opt(0, 0, 0)?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to four characters from an alphabet of visible ASCII, every kind of
    /// whitespace Unicode has, and other non-ASCII characters: trimmed as `str::trim` trims.
    #[test]
    fn trimmed_is_trim() {
        let alphabet = [
            "a", "~", "\x7f", "\x1f", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\u{85}", "\u{a0}",
            "\u{2003}", "\u{3000}", "é", "\u{feff}",
        ];
        let mut strings = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(last.iter().cloned());
        }
        assert_eq!(strings.len(), 1 + 16 + 256 + 4096 + 65536);
        for s in &strings {
            assert_eq!(trimmed(s), s.trim(), "{s:?}");
        }
    }

    fn ts(s: &str, f: &TimeFormats) -> Option<String> {
        parse_timestamp(s, f).map(|m| {
            DateTime::<Utc>::from_timestamp_micros(m)
                .unwrap()
                .to_rfc3339()
        })
    }

    /// What chrono alone makes of `text` in `format` (the path the fixed layout shortcuts).
    fn chrono_reads(text: &str, format: &str) -> Option<NaiveDateTime> {
        let items = StrftimeItems::new(format).parse_to_owned().unwrap();
        let p = parsed(text, &items)?;
        p.to_naive_datetime_with_offset(0)
            .ok()
            .or_else(|| p.to_naive_date().ok()?.and_hms_opt(0, 0, 0))
    }

    #[test]
    fn a_fixed_layout_reads_what_chrono_reads_and_leaves_it_the_rest() {
        use rand::{Rng, SeedableRng};
        let formats = [
            "%d.%m.%Y %H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%m/%d/%Y",
            "%Y%m%d%H%M%S",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut fast = 0;
        for format in formats {
            let items = StrftimeItems::new(format).parse_to_owned().unwrap();
            let layout = FixedLayout::of(&items).expect(format);
            let mut texts: Vec<String> = vec![
                "31.02.2023 10:00".into(),
                "29.02.2024 23:59".into(),
                "29.02.2023 23:59".into(),
                "1.10.2023 11:13".into(),
                "11.10.2023  11:13".into(),
                "11.10.2023 24:00".into(),
                "2023-06-30 23:59:60".into(),
                "2023-06-30 23:59:5x".into(),
                "2023-6-30 23:59:59".into(),
                " 2023-06-30 23:59:59".into(),
                "02/29/2024".into(),
                "13/01/2024".into(),
                "00/01/2024".into(),
                "".into(),
            ];
            for _ in 0..3000 {
                // Digits (sometimes out of range, sometimes a letter) in the format's places.
                let mut t = String::new();
                let mut chars = format.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        t.push(if rng.random_ratio(1, 200) { ' ' } else { c });
                        continue;
                    }
                    // Mostly in range, sometimes just outside it, now and then a letter.
                    let (value, width) = match chars.next() {
                        Some('Y') => (rng.random_range(1890..2110), 4),
                        Some('m') => (rng.random_range(0..14), 2),
                        Some('d') => (rng.random_range(0..33), 2),
                        Some('H') => (rng.random_range(0..25), 2),
                        Some('M') => (rng.random_range(0..61), 2),
                        _ => (rng.random_range(0..62), 2),
                    };
                    let mut digits = format!("{value:0width$}");
                    if rng.random_ratio(1, 300) {
                        digits.replace_range(0..1, "x");
                    }
                    t.push_str(&digits);
                }
                texts.push(t);
            }
            for text in &texts {
                if let Some(n) = layout.read(text) {
                    fast += 1;
                    assert_eq!(Some(n), chrono_reads(text, format), "{format} {text:?}");
                }
            }
        }
        assert!(fast > 1000, "the layout read too few texts itself: {fast}");
        // Formats of other parts are chrono's alone.
        for format in [
            "%d.%m.%y %H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%z",
            "%d %b %Y",
            "%Y-%m-%d %H",
            "%Y-%m-%d %I:%M %p",
            "%H:%M",
            "%-d.%m.%Y",
        ] {
            let items = StrftimeItems::new(format).parse_to_owned().unwrap();
            assert_eq!(FixedLayout::of(&items), None, "{format}");
        }
        // The configured format through parse_timestamp, in a zone with DST.
        let paris = TimeFormats::new(
            Some("%d.%m.%Y %H:%M".into()),
            None,
            chrono_tz::Europe::Paris,
        );
        assert_eq!(
            ts("01.07.2024 12:00", &paris).unwrap(),
            "2024-07-01T10:00:00+00:00"
        );
        assert_eq!(
            ts("1.7.2024 12:00", &paris).unwrap(),
            "2024-07-01T10:00:00+00:00"
        );
        assert_eq!(ts("31.03.2024 02:30", &paris), None);
    }

    #[test]
    fn timestamps_iso_zoned_naive_and_bare_dates_are_stored_utc() {
        let utc = TimeFormats::default();
        assert_eq!(
            ts("2024-03-01T10:00:00+02:00", &utc).unwrap(),
            "2024-03-01T08:00:00+00:00"
        );
        assert_eq!(
            ts("2024-03-01 10:00:00", &utc).unwrap(),
            "2024-03-01T10:00:00+00:00"
        );
        assert_eq!(ts("2024-03-01", &utc).unwrap(), "2024-03-01T00:00:00+00:00");
        assert_eq!(
            ts("2024-03-01T10:00:00Z", &utc).unwrap(),
            "2024-03-01T10:00:00+00:00"
        );
        let paris = TimeFormats::new(None, None, chrono_tz::Europe::Paris);
        assert_eq!(
            ts("2024-03-01 00:30:00", &paris).unwrap(),
            "2024-02-29T23:30:00+00:00"
        );
        assert!(ts("2024-13-01", &utc).is_none());
        assert!(ts("yesterday", &utc).is_none());
    }

    #[test]
    fn canonical_text_of_numbers_is_rusts_display_and_debug_text() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut floats = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.0001,
            0.00012,
            1e-5,
            123.45,
            1e14,
            9.99e14,
            1e15,
            1e16,
            1e300,
            5e-324,
            999_999_999.99,
            -999_999_999.99,
            999_999_999.995,
            1e9,
            1e9 - 0.01,
            1e11,
            0.01,
            -0.01,
            0.05,
            0.1 + 0.2,
            100.0,
            -7.5,
            f64::from_bits(0x4305_88ec_7508_fab2), // a tie ryu and Rust break apart
            f64::MAX,
            f64::MIN_POSITIVE,
            23.64,
            -146.22,
            0.30000000000000004,
        ];
        for _ in 0..20_000 {
            floats.push(rng.random_range(-1_000_000i64..1_000_000) as f64 / 100.0);
            // Whole cents up to the fast path's bound and past it, parsed as an export's text.
            let cents = rng.random_range(-200_000_000_000i64..200_000_000_000);
            let text = format!("{}.{:02}", cents / 100, (cents % 100).abs());
            floats.push(text.parse().unwrap());
            floats.push(rng.random_range(0..1000i64) as f64 / 100.0);
            floats.push(rng.random_range(0..1000i64) as f64 / 10.0 + 0.001);
            floats.push(f64::from_bits(rng.random::<u64>()));
            floats.push(rng.random_range(1e-5..1e16));
            floats.push(rng.random_range(1e-5..2e9));
            floats.push(rng.random_range(-1e-3..1e-3));
        }
        for f in floats.into_iter().filter(|f| f.is_finite()) {
            let mut ours = String::new();
            Value::F64(f).canonical_text(&mut ours);
            assert_eq!(ours, format!("{f:?}"), "bits {:#x}", f.to_bits());
        }
        for i in [0i64, -1, 42, i64::MIN, i64::MAX] {
            let mut ours = String::new();
            Value::I64(i).canonical_text(&mut ours);
            Value::Date(i as i32).canonical_text(&mut ours);
            Value::Timestamp(i).canonical_text(&mut ours);
            assert_eq!(ours, format!("{i}d{}t{i}", i as i32));
        }
    }

    #[test]
    fn configured_formats_win() {
        let f = TimeFormats::new(
            Some("%Y%m%d".into()),
            Some("%d/%m/%Y".into()),
            chrono_tz::UTC,
        );
        assert_eq!(ts("19970101", &f).unwrap(), "1997-01-01T00:00:00+00:00");
        assert_eq!(parse_date("02/01/1970", &f), Some(1));
    }

    #[test]
    fn values_that_are_not_what_their_column_says_are_rejected() {
        let f = TimeFormats::default();
        let find = |n: &str| TRANSACTIONS.iter().find(|c| c.name == n).unwrap();
        let (amount, customer, category) = (
            find("amount"),
            find("customer_id"),
            find("product_category"),
        );
        assert_eq!(
            parse_value(amount, Some("1.797e308"), &f).unwrap_err(),
            "amount out of range: \"1.797e308\" (at most 1e12 in magnitude)"
        );
        assert!(parse_value(amount, Some("-1e13"), &f).is_err());
        assert!(parse_value(amount, Some("inf"), &f).is_err());
        assert!(parse_value(amount, Some("NaN"), &f).is_err());
        assert_eq!(
            parse_value(amount, Some("-999999999999.99"), &f),
            Ok(Value::F64(-999999999999.99))
        );
        assert_eq!(
            parse_value(customer, Some(r#"{"id":"C002"}"#), &f).unwrap_err(),
            r#"not an id in customer_id: a JSON object or array: "{\"id\":\"C002\"}""#
        );
        assert!(parse_value(customer, Some("[1,2]"), &f).is_err());
        // Text that merely starts with a bracket is an id all the same.
        assert_eq!(
            parse_value(customer, Some("[VIP] 17"), &f),
            Ok(Value::Str(Cow::Borrowed("[VIP] 17")))
        );
        // Not an id column: an object is text like any other.
        assert!(parse_value(category, Some(r#"{"a":1}"#), &f).is_ok());
        assert!(
            parse_value(customer, Some("C0\u{0}01"), &f)
                .unwrap_err()
                .starts_with("NUL byte in customer_id")
        );
    }

    #[test]
    fn timestamps_outside_the_valid_range_are_rejected_with_the_bound() {
        let day = |d: &str| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        let f = TimeFormats::default().valid_between(day("1970-01-01"), day("2026-12-08"));
        let ts = TRANSACTIONS.iter().find(|c| c.name == "ts").unwrap();
        assert!(parse_value(ts, Some("2026-12-07T23:59:59Z"), &f).is_ok());
        assert!(parse_value(ts, Some("1970-01-01"), &f).is_ok());
        assert_eq!(
            parse_value(ts, Some("9999-12-31"), &f).unwrap_err(),
            "ts after the load's time: \"9999-12-31\" is at or after 2026-12-08 00:00 UTC (warehouse.future_days)"
        );
        assert_eq!(
            parse_value(ts, Some("1066-10-14"), &f).unwrap_err(),
            "ts before the warehouse's earliest time: \"1066-10-14\" is before 1970-01-01 00:00 UTC (warehouse.valid_from)"
        );
        assert!(parse_value(ts, Some("0000-01-01"), &f).is_err());
        assert!(parse_value(ts, Some("2026-12-08T00:00:00Z"), &f).is_err());
        assert_eq!(
            crate::ingest::parse::reason_kind(
                &parse_value(ts, Some("9999-12-31"), &f).unwrap_err()
            ),
            "ts after the load's time"
        );
    }

    #[test]
    fn reasons_name_the_column_and_value() {
        let f = TimeFormats::default();
        let amount = TRANSACTIONS.iter().find(|c| c.name == "amount").unwrap();
        assert_eq!(parse_value(amount, Some("12.5"), &f), Ok(Value::F64(12.5)));
        let eu = TimeFormats::new(Some("%d.%m.%Y %H:%M".into()), None, chrono_tz::UTC);
        assert_eq!(
            ts("11.10.2023 11:13", &eu).unwrap(),
            "2023-10-11T11:13:00+00:00"
        );
        // The configured format first, the ISO forms still understood after it.
        assert_eq!(
            ts("2023-10-11 11:13", &eu).unwrap(),
            "2023-10-11T11:13:00+00:00"
        );
        assert_eq!(
            parse_value(amount, Some("abc"), &f).unwrap_err(),
            "unparsable number in amount: \"abc\""
        );
        assert_eq!(
            parse_value(amount, Some(" "), &f).unwrap_err(),
            "missing required field amount"
        );
        let csat = INTERACTIONS.iter().find(|c| c.name == "csat").unwrap();
        assert_eq!(
            parse_value(csat, Some("7"), &f).unwrap_err(),
            "csat out of range 1..5: 7"
        );
        let channel = INTERACTIONS.iter().find(|c| c.name == "channel").unwrap();
        assert_eq!(
            parse_value(channel, Some("In-Person"), &f),
            Ok(Value::Str(Cow::Borrowed("in_person")))
        );
        assert!(
            parse_value(channel, Some("fax"), &f)
                .unwrap_err()
                .starts_with("invalid value in channel")
        );
    }
}
