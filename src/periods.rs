//! Calendar periods as integers, so that "the period before" is `p - 1` in SQL: a day is its
//! number since 1970-01-01, a week (ISO 8601: Monday to Sunday) the number of Mondays since
//! 1969-12-29, a month `year * 12 + month - 1`, a quarter `year * 4 + quarter - 1`, a year
//! itself. Registered in every session as the SQL functions `period_index(date, period)`,
//! `period_label(index, period)` (`2024-03-05`, `2024-W05`, `2024-03`, `2024-Q1`, `2024`,
//! METRICS.md and the stable shapes) and `period_start(index, period)`; `period` is
//! `'day'`, `'week'`, `'month'`, `'quarter'` or `'year'`. The dates are days of the report's
//! time zone (`to_report_date`), so a week starts on Monday there.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

const EPOCH_CE: i32 = 719_163;

/// Day number (since 1970-01-01) of the Monday that starts week 0: 1969-12-29. Week `w` is the
/// seven days from `w * 7 + WEEK_0_MONDAY`, Monday to Sunday, as ISO 8601 counts them.
const WEEK_0_MONDAY: i64 = -3;

pub fn start(index: i64, period: &str) -> Option<NaiveDate> {
    match period {
        "day" => return from_days(index),
        "week" => return from_days(index.checked_mul(7)? + WEEK_0_MONDAY),
        _ => {}
    }
    let (y, m) = match period {
        "month" => (index.div_euclid(12), index.rem_euclid(12) + 1),
        "quarter" => (index.div_euclid(4), index.rem_euclid(4) * 3 + 1),
        "year" => (index, 1),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m as u32, 1)
}

/// The day `days` after 1970-01-01.
fn from_days(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()?.checked_add(EPOCH_CE)?)
}

pub fn label(index: i64, period: &str) -> Option<String> {
    match period {
        "day" => Some(from_days(index)?.format("%Y-%m-%d").to_string()),
        "week" => {
            // The ISO year of a week is the year of its Thursday: 2024-12-30 is in 2025-W01.
            let week = start(index, "week")?.iso_week();
            Some(format!("{}-W{:02}", week.year(), week.week()))
        }
        "month" => Some(format!(
            "{}-{:02}",
            index.div_euclid(12),
            index.rem_euclid(12) + 1
        )),
        "quarter" => Some(format!(
            "{}-Q{}",
            index.div_euclid(4),
            index.rem_euclid(4) + 1
        )),
        "year" => Some(index.to_string()),
        _ => None,
    }
}

/// (year, month) of a day number since 1970-01-01 in the proleptic Gregorian calendar, by
/// integer arithmetic (Howard Hinnant's `civil_from_days`): `period_index` runs it for every
/// transaction, where building a chrono date per row was a tenth of the cohort matrix.
fn year_month(days: i32) -> (i64, i64) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

/// Month numbers (year * 12 + month - 1, less that of January 1900) of the days from 1900-01-01
/// to 2199-12-31, for `period_index` over a batch whose days all fall there (every real
/// transaction): a lookup per row instead of the calendar arithmetic (220 KB, built once).
struct MonthTable {
    first_day: i32,
    months: Vec<u16>,
}

const TABLE_FIRST_MONTH: i64 = 1900 * 12;

fn month_table() -> &'static MonthTable {
    static TABLE: std::sync::OnceLock<MonthTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let day = |y| days_of(NaiveDate::from_ymd_opt(y, 1, 1).expect("a valid day"));
        let (first_day, end) = (day(1900), day(2200));
        let months = (first_day..end)
            .map(|d| {
                let (y, m) = year_month(d);
                (y * 12 + m - 1 - TABLE_FIRST_MONTH) as u16
            })
            .collect();
        MonthTable { first_day, months }
    })
}

/// `period_index` of every day of `dates` through the [`MonthTable`]; None when a day falls
/// outside it.
fn index_by_table(dates: &Date32Array, per_year: i64) -> Option<Int64Array> {
    let table = month_table();
    let (lo, hi) = (
        datafusion::arrow::compute::min(dates),
        datafusion::arrow::compute::max(dates),
    );
    let last_day = table.first_day + table.months.len() as i32 - 1;
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo >= table.first_day && hi <= last_day => {}
        (None, None) => return Some(Int64Array::new_null(dates.len())),
        _ => return None,
    }
    let month = |d: i32| {
        // Null slots hold arbitrary values: clamp them into the table (their result is null).
        let i = (d - table.first_day).clamp(0, table.months.len() as i32 - 1) as usize;
        TABLE_FIRST_MONTH + table.months[i] as i64
    };
    Some(match per_year {
        12 => dates.unary(month),
        4 => dates.unary(|d| {
            let m = month(d);
            m / 12 * 4 + m % 12 / 3
        }),
        _ => dates.unary(|d| month(d) / 12),
    })
}

/// The period index of a day number (days since 1970-01-01), for the days chrono can represent:
/// the period looked up once, then a function of the day number alone.
/// Periods per year: month, quarter or year.
fn per_year(period: &str) -> Option<i64> {
    match period {
        "month" => Some(12),
        "quarter" => Some(4),
        "year" => Some(1),
        _ => None,
    }
}

fn index_of_days_fn(period: &str) -> Option<impl Fn(i32) -> Option<i64> + use<>> {
    // Days and weeks are a function of the day number alone; per_year 0 and -1 mark them.
    let per_year = match period {
        "day" => 0,
        "week" => -1,
        _ => per_year(period)?,
    };
    let (lo, hi) = (days_of(NaiveDate::MIN), days_of(NaiveDate::MAX));
    Some(move |days: i32| {
        if !(lo..=hi).contains(&days) {
            return None;
        }
        match per_year {
            0 => Some(days as i64),
            -1 => Some((days as i64 - WEEK_0_MONDAY).div_euclid(7)),
            _ => {
                let (y, m) = year_month(days);
                Some(y * per_year + (m - 1) * per_year / 12)
            }
        }
    })
}

fn index_of_days(days: i32, period: &str) -> Option<i64> {
    index_of_days_fn(period).and_then(|f| f(days))
}

/// The period index of a date.
pub fn index(date: NaiveDate, period: &str) -> Option<i64> {
    index_of_days(days_of(date), period)
}

fn days_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_CE
}

/// The period argument, checked: one value for all rows (the usual case: every view passes the
/// constant param_period()), or one per row.
enum Periods {
    One(Option<String>),
    PerRow(Vec<Option<String>>),
}

impl Periods {
    fn of(arg: &ColumnarValue) -> datafusion::error::Result<Periods> {
        let periods = match arg {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v),
            ) => Periods::One(v.clone()),
            ColumnarValue::Array(a) => {
                let a = datafusion::arrow::compute::cast(a, &DataType::Utf8)?;
                Periods::PerRow(
                    a.as_string::<i32>()
                        .iter()
                        .map(|v| v.map(str::to_string))
                        .collect(),
                )
            }
            other => {
                return Err(DataFusionError::Execution(format!(
                    "period must be text, got {other:?}"
                )));
            }
        };
        match &periods {
            Periods::One(p) => check(p)?,
            Periods::PerRow(ps) => ps.iter().try_for_each(check)?,
        }
        Ok(periods)
    }

    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Periods::One(p) => p.as_deref(),
            Periods::PerRow(ps) => ps[row].as_deref(),
        }
    }
}

fn check(p: &Option<String>) -> datafusion::error::Result<()> {
    match p.as_deref() {
        None | Some("day" | "week" | "month" | "quarter" | "year") => Ok(()),
        Some(other) => Err(DataFusionError::Execution(format!(
            "unknown period {other:?}: day, week, month, quarter or year"
        ))),
    }
}

/// Applies `f(index, period)` row by row to (index, period) arguments; null in, null out.
fn per_index<T>(
    args: &[ColumnarValue],
    f: impl Fn(i64, &str) -> Option<T>,
) -> datafusion::error::Result<Vec<Option<T>>> {
    let idx = args[0].to_array(1)?;
    let idx = datafusion::arrow::compute::cast(&idx, &DataType::Int64)?;
    let ps = Periods::of(&args[1])?;
    Ok(idx
        .as_primitive::<Int64Type>()
        .iter()
        .enumerate()
        .map(|(row, i)| match (i, ps.get(row)) {
            (Some(i), Some(p)) => f(i, p),
            _ => None,
        })
        .collect())
}

pub fn register(ctx: &SessionContext) {
    for udf in udfs() {
        ctx.register_udf(udf);
    }
}

/// `period_index`, `period_label` and `period_start`.
pub fn udfs() -> [ScalarUDF; 3] {
    let index_udf = create_udf(
        "period_index",
        vec![DataType::Date32, DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let dates = args[0].to_array(1)?;
            let dates = datafusion::arrow::compute::cast(&dates, &DataType::Date32)?;
            let dates = dates.as_primitive::<Date32Type>();
            let ps = Periods::of(&args[1])?;
            let out: Int64Array = match &ps {
                Periods::One(Some(p)) => {
                    match (
                        per_year(p).and_then(|n| index_by_table(dates, n)),
                        index_of_days_fn(p),
                    ) {
                        (Some(out), _) => out,
                        (None, Some(f)) => dates.unary_opt(f),
                        (None, None) => Int64Array::new_null(dates.len()),
                    }
                }
                _ => dates
                    .iter()
                    .enumerate()
                    .map(|(row, d)| match (d, ps.get(row)) {
                        (Some(d), Some(p)) => index_of_days(d, p),
                        _ => None,
                    })
                    .collect(),
            };
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    );
    let label_udf = create_udf(
        "period_label",
        vec![DataType::Int64, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let out = per_index(args, label)?;
            Ok(ColumnarValue::Array(
                Arc::new(StringArray::from(out)) as ArrayRef
            ))
        }),
    );
    let start_udf = create_udf(
        "period_start",
        vec![DataType::Int64, DataType::Utf8],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let out = per_index(args, |i, p| start(i, p).map(days_of))?;
            Ok(ColumnarValue::Array(
                Arc::new(Date32Array::from(out)) as ArrayRef
            ))
        }),
    );
    [index_udf, label_udf, start_udf]
}

/// The report zone's wall clock for every instant of `ts` (micros since the epoch, UTC), as
/// micros since the epoch of that wall clock.
fn local_micros(
    ts: &datafusion::arrow::array::TimestampMicrosecondArray,
    tz: chrono_tz::Tz,
) -> datafusion::arrow::array::TimestampMicrosecondArray {
    use chrono::TimeZone;
    use datafusion::arrow::array::TimestampMicrosecondArray;
    if tz == chrono_tz::UTC {
        // UTC's wall clock is the instant itself: the same values without a zone.
        return TimestampMicrosecondArray::new(ts.values().clone(), ts.nulls().cloned());
    }
    ts.iter()
        .map(|v| {
            let utc = chrono::DateTime::from_timestamp_micros(v?)?;
            Some(
                tz.from_utc_datetime(&utc.naive_utc())
                    .naive_local()
                    .and_utc()
                    .timestamp_micros(),
            )
        })
        .collect()
}

/// Registers `to_report_time(ts)`: the wall-clock time of an instant in the report's time zone,
/// as a timestamp without zone (METRICS.md "Time and money": days, months and years are taken
/// in that zone), and `to_report_date(ts)`: its calendar day, computed from the micros rather
/// than through a date object per row. Functions of the session, bound to the zone, so every
/// query shares them.
pub fn register_report_time(ctx: &SessionContext, tz: chrono_tz::Tz) {
    for udf in report_time_udfs(tz) {
        ctx.register_udf(udf);
    }
}

/// `to_report_time` and `to_report_date` bound to the zone `tz`.
pub fn report_time_udfs(tz: chrono_tz::Tz) -> [ScalarUDF; 2] {
    [false, true].map(|date| ScalarUDF::new_from_impl(ReportTime::new(tz, date)))
}

/// `to_report_time(ts)` (or, with `date`, `to_report_date(ts)`) in the zone `zone`: a function
/// with its zone as a field, so a plan sent to a cluster can say which zone it is bound to.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ReportTime {
    pub zone: chrono_tz::Tz,
    date: bool,
    signature: datafusion::logical_expr::Signature,
}

impl ReportTime {
    fn new(zone: chrono_tz::Tz, date: bool) -> ReportTime {
        use datafusion::arrow::datatypes::TimeUnit;
        let utc_ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        ReportTime {
            zone,
            date,
            signature: datafusion::logical_expr::Signature::exact(
                vec![utc_ts],
                Volatility::Immutable,
            ),
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for ReportTime {
    fn name(&self) -> &str {
        if self.date {
            "to_report_date"
        } else {
            "to_report_time"
        }
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        use datafusion::arrow::datatypes::TimeUnit;
        Ok(if self.date {
            DataType::Date32
        } else {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        })
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        use datafusion::arrow::datatypes::{TimeUnit, TimestampMicrosecondType};
        const MICROS_PER_DAY: i64 = 86_400_000_000;
        let ts = args.args[0].to_array(args.number_rows)?;
        let ts = datafusion::arrow::compute::cast(
            &ts,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?;
        let local = local_micros(ts.as_primitive::<TimestampMicrosecondType>(), self.zone);
        if !self.date {
            return Ok(ColumnarValue::Array(Arc::new(local) as ArrayRef));
        }
        let days: Date32Array =
            datafusion::arrow::compute::kernels::arity::unary(&local, |m: i64| {
                m.div_euclid(MICROS_PER_DAY) as i32
            });
        Ok(ColumnarValue::Array(Arc::new(days) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn date_of(days: i32) -> Option<NaiveDate> {
        NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_CE)?)
    }

    /// The definition, through chrono's calendar: what the day-number arithmetic must equal.
    fn chrono_index(date: NaiveDate, period: &str) -> Option<i64> {
        let (y, m) = (date.year() as i64, date.month() as i64);
        match period {
            "month" => Some(y * 12 + m - 1),
            "quarter" => Some(y * 4 + (m - 1) / 3),
            "year" => Some(y),
            _ => None,
        }
    }

    /// The lookup table gives every day of its range, with nulls kept, the index the calendar
    /// arithmetic gives; a batch with a day outside it is left to the arithmetic.
    #[test]
    fn period_indices_by_table_equal_the_arithmetic() {
        let table = month_table();
        let days: Vec<Option<i32>> = (0..table.months.len() as i32)
            .map(|i| (i % 97 != 0).then_some(table.first_day + i))
            .collect();
        let dates = Date32Array::from(days.clone());
        for (period, per_year) in [("month", 12), ("quarter", 4), ("year", 1)] {
            let got = index_by_table(&dates, per_year).unwrap();
            let f = index_of_days_fn(period).unwrap();
            for (i, d) in days.iter().enumerate() {
                assert_eq!(got.is_null(i), d.is_none());
                if let Some(d) = d {
                    assert_eq!(Some(got.value(i)), f(*d), "{period} of day {d}");
                }
            }
        }
        let outside = Date32Array::from(vec![Some(0), Some(table.first_day - 1)]);
        assert!(index_by_table(&outside, 12).is_none());
    }

    /// Weeks against chrono's ISO calendar: every day of a week maps to its week, the week
    /// starts on a Monday, and the label is the ISO year and week of that day (the year of the
    /// week's Thursday at the turn of a year).
    #[test]
    fn weeks_are_iso_weeks_and_days_are_days() {
        for days in -40_000..40_000 {
            let date = date_of(days).unwrap();
            let w = index(date, "week").unwrap();
            let monday = start(w, "week").unwrap();
            assert_eq!(monday.weekday(), chrono::Weekday::Mon, "{date}");
            assert!(
                monday <= date && date < monday + chrono::Duration::days(7),
                "{date}"
            );
            let iso = date.iso_week();
            assert_eq!(
                label(w, "week").unwrap(),
                format!("{}-W{:02}", iso.year(), iso.week()),
                "{date}"
            );
            let day = index(date, "day").unwrap();
            assert_eq!(start(day, "day"), Some(date));
            assert_eq!(label(day, "day").unwrap(), date.to_string());
        }
        assert_eq!(
            label(index(d("2024-12-30"), "week").unwrap(), "week").unwrap(),
            "2025-W01"
        );
        assert_eq!(
            label(index(d("2021-01-03"), "week").unwrap(), "week").unwrap(),
            "2020-W53"
        );
        assert_eq!(
            index(d("2024-03-03"), "week").unwrap() + 1,
            index(d("2024-03-04"), "week").unwrap()
        );
    }

    #[test]
    fn consecutive_periods_are_consecutive_integers() {
        assert_eq!(
            index(d("2024-12-31"), "month").unwrap() + 1,
            index(d("2025-01-01"), "month").unwrap()
        );
        assert_eq!(
            index(d("2024-12-31"), "quarter").unwrap() + 1,
            index(d("2025-01-01"), "quarter").unwrap()
        );
        assert_eq!(
            index(d("2024-03-31"), "quarter"),
            index(d("2024-01-01"), "quarter")
        );
        assert_eq!(index(d("2024-06-30"), "year"), Some(2024));
    }

    #[test]
    fn period_indices_from_day_numbers_equal_chronos_calendar() {
        let (lo, hi) = (days_of(NaiveDate::MIN), days_of(NaiveDate::MAX));
        let mut days: Vec<i32> = (-800_000..800_000).step_by(7).collect();
        days.extend(-1_000..1_000);
        days.extend([
            lo,
            lo + 1,
            hi - 1,
            hi,
            0,
            -1,
            59,
            60,
            11_016,
            19_782,
            19_783,
        ]);
        for d in days {
            for p in ["month", "quarter", "year"] {
                assert_eq!(
                    index_of_days(d, p),
                    chrono_index(date_of(d).unwrap(), p),
                    "day {d} ({}), {p}",
                    date_of(d).unwrap()
                );
            }
        }
        assert_eq!(index_of_days(lo - 1, "month"), None);
        assert_eq!(index_of_days(hi + 1, "month"), None);
    }

    #[test]
    fn labels_and_starts() {
        for (date, p, l, s) in [
            ("2024-03-15", "month", "2024-03", "2024-03-01"),
            ("2024-05-15", "quarter", "2024-Q2", "2024-04-01"),
            ("2024-12-15", "quarter", "2024-Q4", "2024-10-01"),
            ("2024-05-15", "year", "2024", "2024-01-01"),
            ("2024-02-01", "week", "2024-W05", "2024-01-29"),
            ("2024-02-01", "day", "2024-02-01", "2024-02-01"),
        ] {
            let i = index(d(date), p).unwrap();
            assert_eq!(label(i, p).unwrap(), l);
            assert_eq!(start(i, p).unwrap(), d(s));
        }
        assert!(index(d("2024-01-01"), "fortnight").is_none());
    }

    /// METRICS.md "Time and money": the day of an instant is its day in the report's zone,
    /// before 1970 too (the micros are negative there).
    #[tokio::test]
    async fn report_dates_are_wall_clock_days_in_the_report_zone() {
        for (tz, ts, day) in [
            (
                chrono_tz::Europe::Paris,
                "2024-03-31T22:30:00Z",
                "2024-04-01",
            ),
            (
                chrono_tz::Europe::Paris,
                "2024-03-31T21:30:00Z",
                "2024-03-31",
            ),
            (
                chrono_tz::America::New_York,
                "2024-01-01T03:00:00Z",
                "2023-12-31",
            ),
            (chrono_tz::UTC, "1969-12-31T23:59:59Z", "1969-12-31"),
            (chrono_tz::UTC, "1970-01-01T00:00:00Z", "1970-01-01"),
        ] {
            let ctx = SessionContext::new();
            register_report_time(&ctx, tz);
            let sql = format!(
                "select cast(to_report_date(cast('{ts}' as timestamp with time zone)) as varchar) as d,
                        cast(cast(to_report_time(cast('{ts}' as timestamp with time zone)) as date) as varchar) as via_time"
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let col = |i: usize| {
                batches[0]
                    .column(i)
                    .as_string_view_opt()
                    .map(|a| a.value(0).to_string())
                    .or_else(|| {
                        batches[0]
                            .column(i)
                            .as_string_opt::<i32>()
                            .map(|a| a.value(0).to_string())
                    })
                    .unwrap()
            };
            assert_eq!(col(0), day, "{tz} {ts}");
            assert_eq!(col(1), day, "{tz} {ts}");
        }
    }
}
