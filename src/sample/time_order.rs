//! `crm sample --order time`: the order lines as an ERP or a shop system writes them, by time,
//! instead of grouped by customer as the generator draws them.
//!
//! The generator draws a customer's whole history at once, so the lines are put in order after
//! it: each line goes to a temporary file of its week (with its time and a sequence number), and
//! at the end every week is read back, sorted by (time, sequence) and appended to the export. A
//! week at a time holds about a hundredth of a two-year export in memory, whatever its size.
//! Lines of the same minute keep the order they were drawn in (an order's lines together).

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use chrono::{NaiveDate, NaiveDateTime};

/// Order lines waiting in week files to be written in time order.
pub(super) struct ByTime {
    dir: PathBuf,
    start: NaiveDateTime,
    weeks: Vec<Option<BufWriter<File>>>,
    seq: u64,
    /// Turns a record into its CSV line (the export's delimiter and quoting) in `buf`.
    line: csv::Writer<Shared>,
    buf: Rc<RefCell<Vec<u8>>>,
}

/// The buffer the CSV writer writes a line into, shared with [`ByTime::push`], which moves it
/// to its week file (`csv::Writer` lends no mutable access to what it writes into).
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ByTime {
    /// Week files for lines from `start` to `end` in a temporary folder inside `out`.
    pub(super) fn new(out: &Path, start: NaiveDate, end: NaiveDate) -> std::io::Result<ByTime> {
        let dir = out.join(".orders-by-week.tmp");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let weeks = ((end - start).num_days() / 7 + 1) as usize;
        let buf = Rc::new(RefCell::new(Vec::new()));
        Ok(ByTime {
            dir,
            start: start.and_hms_opt(0, 0, 0).expect("midnight"),
            weeks: (0..weeks).map(|_| None).collect(),
            seq: 0,
            line: csv::WriterBuilder::new()
                .delimiter(b';')
                .flexible(true)
                .from_writer(Shared(buf.clone())),
            buf,
        })
    }

    /// Keeps `rec`, an order line of time `ts` (its time as drawn: a line whose date field is
    /// deliberately spoilt still goes where it was drawn).
    pub(super) fn push(&mut self, ts: NaiveDateTime, rec: &[String]) -> csv::Result<()> {
        self.line.write_record(rec)?;
        self.line.flush()?;
        let week = ((ts - self.start).num_days().max(0) / 7) as usize;
        let week = week.min(self.weeks.len() - 1);
        let file = match &mut self.weeks[week] {
            Some(f) => f,
            slot => {
                let path = self.dir.join(format!("{week:05}"));
                slot.insert(BufWriter::with_capacity(64 << 10, File::create(path)?))
            }
        };
        let mut bytes = self.buf.borrow_mut();
        file.write_all(&ts.and_utc().timestamp().to_le_bytes())?;
        file.write_all(&self.seq.to_le_bytes())?;
        file.write_all(&(bytes.len() as u32).to_le_bytes())?;
        file.write_all(&bytes)?;
        bytes.clear();
        drop(bytes);
        self.seq += 1;
        Ok(())
    }

    /// Appends every line kept to `out` in time order and removes the week files.
    pub(super) fn finish(mut self, out: &mut impl Write) -> std::io::Result<()> {
        for (week, file) in self.weeks.iter_mut().enumerate() {
            let Some(file) = file.take() else {
                continue;
            };
            drop(file.into_inner().map_err(|e| e.into_error())?);
            let path = self.dir.join(format!("{week:05}"));
            let mut bytes = Vec::new();
            BufReader::new(File::open(&path)?).read_to_end(&mut bytes)?;
            let mut lines = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8"));
                let (ts, seq) = (word(at) as i64, word(at + 8));
                let len = u32::from_le_bytes(bytes[at + 16..at + 20].try_into().expect("4"));
                let begin = at + 20;
                at = begin + len as usize;
                lines.push((ts, seq, begin, at));
            }
            lines.sort_unstable_by_key(|&(ts, seq, _, _)| (ts, seq));
            for (_, _, begin, end) in lines {
                out.write_all(&bytes[begin..end])?;
            }
            std::fs::remove_file(&path)?;
        }
        std::fs::remove_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 1, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn lines_come_out_by_time_and_same_time_lines_in_the_order_they_came() {
        let dir = tempfile::tempdir().unwrap();
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2024, 2, 1).unwrap();
        let mut by_time = ByTime::new(dir.path(), start, end).unwrap();
        let rec = |s: &str| vec![s.to_string(), "x;y".to_string()];
        for (ts, name) in [
            (at(20, 9), "c"),
            (at(2, 9), "a"),
            (at(20, 9), "d"),
            (at(9, 23), "b"),
            (at(31, 0), "e"),
        ] {
            by_time.push(ts, &rec(name)).unwrap();
        }
        let mut out = Vec::new();
        by_time.finish(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a;\"x;y\"\nb;\"x;y\"\nc;\"x;y\"\nd;\"x;y\"\ne;\"x;y\"\n"
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "the week files are removed"
        );
    }
}
