//! Surrogate keys, assigned at ingest so that the hot queries group and join on integers
//! instead of strings.
//!
//! - `customer_key`: a dense integer (1, 2, 3, ...) per customer id, the same in every table
//!   and every load. The warehouse keeps the dictionary in the `customer_keys` table (one row
//!   per id, appended by the load that first saw it), so the queries look the id up again only
//!   for the rows they return (one per customer), never per transaction. The ids a
//!   transactions export brings that the warehouse has not seen are numbered in the order of
//!   their text, not of their first line ([`CustomerKeys::renumber`]): the transactions
//!   file is sorted by `customer_key`, and so comes out the same whichever order the export's
//!   lines are in (by customer, by time).
//! - `order_key` (transactions): the 64-bit xxh3 hash of the order id, or of the transaction id
//!   where the order id is empty (METRICS.md "RFM": an order is a distinct order_id, or the
//!   transaction itself). The queries only ever group it together with `customer_key`, so two
//!   orders are confused only if they belong to one customer and share a hash: about k^2 / 2^65
//!   for a customer with k orders (3e-8 for a million orders). A dictionary of order ids would
//!   make it exact at the price of one map entry per order at every load (70 million entries
//!   for the 100M-line benchmark export), which is why it is a hash.

use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::idmap::IdKey;
use super::row_order::Renumbered;
use crate::config::Table;

pub use crate::warehouse::tables::{CUSTOMER_KEYS as TABLE, KEYED};

/// Seeds that keep an order id and a transaction id with the same text apart.
const ORDER_SEED: u64 = 0x006f_7264_6572;
const TRANSACTION_SEED: u64 = 0x0074_7261_6e73;

/// The customer-key dictionary of a warehouse, and the ids this load added to it.
#[derive(Default)]
pub struct CustomerKeys {
    map: FxHashMap<IdKey, i64>,
    next: i64,
    /// The added ids, end to end in one buffer (`added_ends[i]` ends the i-th): a million new
    /// customers are a few allocations, not a million small ones scattered among the load's
    /// row buffers.
    added_text: String,
    added_ends: Vec<usize>,
    added_keys: Vec<i64>,
    /// The first id added since [`CustomerKeys::mark`] and its key, and whether every id added
    /// since came after the one before it in text order.
    marked: usize,
    marked_key: i64,
    in_text_order: bool,
}

impl CustomerKeys {
    /// A dictionary holding `pairs` (id, key) read from the warehouse.
    pub fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, i64)>) -> CustomerKeys {
        let mut keys = CustomerKeys {
            next: 1,
            in_text_order: true,
            ..Default::default()
        };
        for (id, key) in pairs {
            keys.map.insert(IdKey::of(id), key);
            keys.next = keys.next.max(key + 1);
        }
        keys
    }

    /// The key of `id`, assigned now if the id is new.
    pub fn key(&mut self, id: &str) -> i64 {
        let next = &mut self.next;
        let text = &mut self.added_text;
        let ends = &mut self.added_ends;
        let added_keys = &mut self.added_keys;
        let (marked, in_text_order) = (self.marked, &mut self.in_text_order);
        *self.map.entry(IdKey::of(id)).or_insert_with(|| {
            let k = *next;
            *next += 1;
            if *in_text_order && ends.len() > marked {
                let before = ends.len().checked_sub(2).map_or(0, |i| ends[i]);
                *in_text_order = text[before..] < *id;
            }
            text.push_str(id);
            ends.push(text.len());
            added_keys.push(k);
            k
        })
    }

    /// Ids first seen by this load.
    pub fn added(&self) -> usize {
        self.added_keys.len()
    }

    /// Starts the ids of one export: the key the first new one gets.
    pub fn mark(&mut self) -> i64 {
        self.marked = self.added_keys.len();
        self.marked_key = self.next;
        self.in_text_order = true;
        self.next
    }

    /// Whether the ids added since [`CustomerKeys::mark`] were first seen in the order of their
    /// text (an export grouped by customer in id order), so that their keys are in that order
    /// already.
    pub fn in_text_order(&self) -> bool {
        self.in_text_order
    }

    /// Gives the ids added since [`CustomerKeys::mark`] their keys in the order of their text,
    /// and returns the new key of each old one; `None` if they are in that order already. The
    /// added ids are kept in key order.
    pub fn renumber(&mut self) -> Option<Renumbered> {
        if self.in_text_order {
            return None;
        }
        let (from, first) = (self.marked, self.marked_key);
        let base = if from == 0 {
            0
        } else {
            self.added_ends[from - 1]
        };
        let (all, ends) = (&self.added_text, &self.added_ends);
        let text = |i: usize| {
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &all[start..ends[i]]
        };
        // The ids added since the mark, by text: the i-th gets key first + i.
        let mut by_text: Vec<usize> = (from..ends.len()).collect();
        by_text.sort_unstable_by(|&a, &b| text(a).cmp(text(b)));
        let mut new = vec![0; by_text.len()];
        let mut sorted_text = String::with_capacity(all.len() - base);
        let mut sorted_ends = Vec::with_capacity(by_text.len());
        for (rank, &i) in by_text.iter().enumerate() {
            let key = first + rank as i64;
            new[(self.added_keys[i] - first) as usize] = key;
            let id = text(i);
            self.map.insert(IdKey::of(id), key);
            sorted_text.push_str(id);
            sorted_ends.push(base + sorted_text.len());
        }
        self.added_text.truncate(base);
        self.added_text.push_str(&sorted_text);
        self.added_ends.truncate(from);
        self.added_ends.extend(sorted_ends);
        self.added_keys.truncate(from);
        let added = by_text.len() as i64;
        self.added_keys.extend((0..added).map(|rank| first + rank));
        self.in_text_order = true;
        Some(Renumbered { first, new })
    }

    /// The rows this load adds to the `customer_keys` table.
    pub fn added_frame(&self, load_version: u64) -> PolarsResult<DataFrame> {
        let n = self.added_keys.len();
        let mut ids = StringChunkedBuilder::new("customer_id".into(), n);
        let mut start = 0;
        for &end in &self.added_ends {
            ids.append_value(&self.added_text[start..end]);
            start = end;
        }
        DataFrame::new(
            n,
            vec![
                ids.finish().into_column(),
                Series::new("customer_key".into(), &self.added_keys).into_column(),
                Int64Chunked::full("load_version".into(), load_version as i64, n).into_column(),
            ],
        )
    }

    /// The keys of a column of ids. An export grouped by customer gives a customer's rows one
    /// after another: an id equal to the row before's takes its key without hashing or a
    /// lookup (the dictionary's lookups were 1.4% of a 10M-line load's CPU, perf).
    fn column(&mut self, ids: &StringChunked) -> Int64Chunked {
        let mut last: Option<(&str, i64)> = None;
        ids.iter()
            .map(|id| {
                id.map(|id| match last {
                    Some((before, key)) if before == id => key,
                    _ => {
                        let key = self.key(id);
                        last = Some((id, key));
                        key
                    }
                })
            })
            .collect::<Int64Chunked>()
            .with_name("customer_key".into())
    }
}

/// The order key of a transaction (see the module comment).
pub fn order_key(order_id: Option<&str>, transaction_id: &str) -> i64 {
    match order_id {
        Some(o) if !o.is_empty() => {
            xxhash_rust::xxh3::xxh3_64_with_seed(o.as_bytes(), ORDER_SEED) as i64
        }
        _ => {
            xxhash_rust::xxh3::xxh3_64_with_seed(transaction_id.as_bytes(), TRANSACTION_SEED) as i64
        }
    }
}

/// Appends `customer_key` (and `order_key` for transactions) to rows of `table` about to be
/// written.
pub fn add_keys(table: Table, df: &mut DataFrame, keys: &mut CustomerKeys) -> PolarsResult<()> {
    let customer = keys.column(df.column("customer_id")?.str()?);
    df.with_column(customer.into_column())?;
    if table == Table::Transactions {
        let orders = df.column("order_id")?.str()?;
        let ids = df.column("transaction_id")?.str()?;
        let order: Int64Chunked = orders
            .iter()
            .zip(ids.iter())
            .map(|(o, t)| Some(order_key(o, t.unwrap_or(""))))
            .collect::<Int64Chunked>()
            .with_name("order_key".into());
        df.with_column(order.into_column())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (id, key) rows a load adds to the `customer_keys` table, in the table's order.
    fn added(k: &CustomerKeys) -> Vec<(String, i64)> {
        let f = k.added_frame(1).unwrap();
        let ids = f.column("customer_id").unwrap().str().unwrap();
        let keys = f.column("customer_key").unwrap().i64().unwrap();
        let ids = ids.iter().map(|id| id.unwrap().to_string());
        ids.zip(keys.iter().map(Option::unwrap)).collect()
    }

    #[test]
    fn keys_are_dense_stable_and_continue_after_the_stored_ones() {
        let mut k = CustomerKeys::from_pairs([("a", 1), ("b", 2)].into_iter());
        assert_eq!(k.key("b"), 2);
        assert_eq!(k.key("c"), 3);
        assert_eq!(k.key("a"), 1);
        assert_eq!(k.key("c"), 3);
        assert_eq!(k.key("d"), 4);
        assert_eq!(k.added(), 2);
        assert_eq!(added(&k), [("c".into(), 3), ("d".into(), 4)]);
        let mut empty = CustomerKeys::from_pairs(std::iter::empty());
        assert_eq!(empty.key("x"), 1);
    }

    /// A column's keys are each id's key, whether its rows come together or apart, with a
    /// missing id between two of the same customer's rows.
    #[test]
    fn a_column_of_ids_takes_each_ids_key() {
        let mut k = CustomerKeys::from_pairs([("a", 1)].into_iter());
        let ids = StringChunked::from_iter([
            Some("b"),
            Some("b"),
            Some("a"),
            None,
            Some("a"),
            Some("b"),
            Some("c"),
            Some("c"),
            Some("a"),
        ]);
        let keys: Vec<Option<i64>> = k.column(&ids).iter().collect();
        let want = [2, 2, 1, 0, 1, 2, 3, 3, 1].map(|k| (k > 0).then_some(k));
        assert_eq!(keys, want);
        assert_eq!(k.added(), 2);
    }

    /// The ids an export adds are numbered by their text, whatever order they came in; the
    /// ids stored before and those added before the mark keep their keys.
    #[test]
    fn ids_added_since_the_mark_are_renumbered_in_text_order() {
        let mut k = CustomerKeys::from_pairs([("m", 1)].into_iter());
        assert_eq!(k.key("q"), 2, "added before the mark");
        let first = k.mark();
        assert_eq!(first, 3);
        for id in ["b", "d", "f"] {
            k.key(id);
        }
        assert!(k.in_text_order(), "b, d, f came in text order");
        assert_eq!(k.renumber().map(|r| r.new), None);
        for id in ["c", "a", "m", "e"] {
            k.key(id);
        }
        assert!(!k.in_text_order());
        // Old keys: b 3, d 4, f 5, c 6, a 7, e 8; by text a b c d e f.
        let renumbered = k.renumber().unwrap();
        assert_eq!(
            (renumbered.first, renumbered.new),
            (first, vec![4, 6, 8, 5, 3, 7])
        );
        assert!(k.in_text_order());
        for (id, key) in [("m", 1), ("q", 2), ("a", 3), ("b", 4), ("c", 5), ("f", 8)] {
            assert_eq!(k.key(id), key, "{id}");
        }
        let want = ["q", "a", "b", "c", "d", "e", "f"]
            .map(String::from)
            .into_iter()
            .zip(2..);
        assert_eq!(added(&k), want.collect::<Vec<_>>());
        // The next export starts after them.
        assert_eq!(k.mark(), 9);
        assert_eq!(k.key("0"), 9);
    }

    #[test]
    fn an_order_id_and_a_transaction_id_with_the_same_text_are_different_orders() {
        assert_ne!(order_key(Some("1001"), "t1"), order_key(None, "1001"));
        assert_eq!(order_key(Some("1001"), "t1"), order_key(Some("1001"), "t2"));
        assert_eq!(order_key(Some(""), "t1"), order_key(None, "t1"));
    }
}
