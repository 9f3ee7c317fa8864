//! The order of a transactions file's rows, the same whatever order the export lists them in:
//! by `customer_key` and `order_key`, the lines of one order by transaction id, and the ids new
//! to the warehouse keyed in the order of their text (keys.rs). sort.rs keeps a load in this
//! order with bounded memory; this file says what the order is.

use polars::prelude::*;

use crate::warehouse::tables::SORT_KEYS;

/// New customer keys of a load's new ids, given at its end: `new[k - first]` for key `k` from
/// `first` on (see [`CustomerKeys::renumber`](super::keys::CustomerKeys::renumber)).
#[derive(Debug, Clone)]
pub struct Renumbered {
    pub first: i64,
    pub new: Vec<i64>,
}

impl Renumbered {
    /// `df` with its customer keys renumbered.
    pub(super) fn apply(&self, df: &mut DataFrame) -> PolarsResult<()> {
        let keys: Int64Chunked = df
            .column(SORT_KEYS[0])?
            .i64()?
            .iter()
            .map(|k| k.map(|k| usize::try_from(k - self.first).map_or(k, |i| self.new[i])))
            .collect::<Int64Chunked>()
            .with_name(SORT_KEYS[0].into());
        df.with_column(keys.into_column())?;
        Ok(())
    }
}

/// The order of `df`'s rows sorted, `None` if they are in order already: by customer and
/// order key, the lines of one order by their transaction id, so that the order does not
/// depend on the order the rows came in. With `new_from`, the customers of keys from it on
/// (ids new to the warehouse, numbered as first seen) come in the order of their id's text,
/// the order of the keys they get at the end of the load ([`CustomerKeys::renumber`]).
///
/// The permutation is sorted here as (customer, order, row) triples rather than by polars'
/// multi-column sort, which compares through its chunked columns row by row (7% of a 10M-line
/// load's CPU, perf). A missing key sorts first, as polars puts nulls. Rows that come grouped
/// by customer in key order (an export grouped by customer) are sorted a customer at a time:
/// a hundred rows at a time, not a run's 128k.
///
/// [`CustomerKeys::renumber`]: super::keys::CustomerKeys::renumber
pub(super) fn sorted_order(
    df: &DataFrame,
    new_from: Option<i64>,
) -> PolarsResult<Option<Vec<IdxSize>>> {
    let customers = df.column(SORT_KEYS[0])?.i64()?;
    let orders = df.column(SORT_KEYS[1])?.i64()?;
    let mut rows: Vec<(i64, i64, IdxSize)> = customers
        .iter()
        .zip(orders.iter())
        .enumerate()
        .map(|(i, (c, o))| (c.unwrap_or(i64::MIN), o.unwrap_or(i64::MIN), i as IdxSize))
        .collect();
    let mut moved = !rows.is_sorted();
    if moved {
        if rows.is_sorted_by_key(|r| r.0) {
            for customer in rows.chunk_by_mut(|a, b| a.0 == b.0) {
                customer.sort_unstable();
            }
        } else {
            rows.sort_unstable();
        }
    }
    moved |= lines_by_transaction_id(df, &mut rows)?;
    if let Some(first) = new_from {
        moved |= new_customers_by_id(df, first, &mut rows)?;
    }
    Ok(moved.then(|| rows.into_iter().map(|r| r.2).collect()))
}

/// The values of the string column `name` row by row (a missing one as ""), or `None` without
/// the column.
fn texts<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Option<Vec<&'a str>>> {
    let Ok(column) = df.column(name) else {
        return Ok(None);
    };
    Ok(Some(
        column.str()?.iter().map(|t| t.unwrap_or("")).collect(),
    ))
}

/// Puts the lines of each order (rows of equal keys in `rows`, sorted by key) in the order of
/// their transaction ids; whether any moved. An id is one line (the load keeps one of each).
fn lines_by_transaction_id(df: &DataFrame, rows: &mut [(i64, i64, IdxSize)]) -> PolarsResult<bool> {
    let mut ids: Option<Vec<&str>> = None;
    let mut moved = false;
    for order in rows.chunk_by_mut(|a, b| a.0 == b.0 && a.1 == b.1) {
        if order.len() < 2 {
            continue;
        }
        let ids = match &ids {
            Some(ids) => ids,
            None => match texts(df, "transaction_id")? {
                Some(t) => ids.insert(t),
                None => return Ok(false),
            },
        };
        let id = |r: &(i64, i64, IdxSize)| ids[r.2 as usize];
        if !order.is_sorted_by_key(id) {
            order.sort_by(|a, b| id(a).cmp(id(b)).then(a.2.cmp(&b.2)));
            moved = true;
        }
    }
    Ok(moved)
}

/// Puts the customers of keys from `first` on (the end of `rows`, sorted by key) in the order of
/// their `customer_id`; whether any moved.
fn new_customers_by_id(
    df: &DataFrame,
    first: i64,
    rows: &mut [(i64, i64, IdxSize)],
) -> PolarsResult<bool> {
    let at = rows.partition_point(|r| r.0 < first);
    let new = &mut rows[at..];
    if new.is_empty() {
        return Ok(false);
    }
    let Some(names) = texts(df, "customer_id")? else {
        return Ok(false);
    };
    // Each customer's rows: (id, start, end).
    let mut customers = Vec::new();
    let mut start = 0;
    for rows in new.chunk_by(|a, b| a.0 == b.0) {
        customers.push((names[rows[0].2 as usize], start, start + rows.len()));
        start += rows.len();
    }
    if customers.is_sorted_by_key(|c| c.0) {
        return Ok(false);
    }
    customers.sort_unstable_by_key(|c| c.0);
    let by_id: Vec<(i64, i64, IdxSize)> = customers
        .iter()
        .flat_map(|&(_, start, end)| new[start..end].iter().copied())
        .collect();
    new.copy_from_slice(&by_id);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: &[(i64, i64, &str, &str)]) -> DataFrame {
        let customer: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let order: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let id: Vec<&str> = rows.iter().map(|r| r.2).collect();
        let line: Vec<&str> = rows.iter().map(|r| r.3).collect();
        DataFrame::new(
            rows.len(),
            vec![
                Series::new("customer_key".into(), customer).into_column(),
                Series::new("order_key".into(), order).into_column(),
                Series::new("customer_id".into(), id).into_column(),
                Series::new("transaction_id".into(), line).into_column(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn rows_in_order_are_left_as_they_are() {
        let df = frame(&[
            (1, 5, "a", "t1"),
            (1, 5, "a", "t2"),
            (1, 7, "a", "t0"),
            (2, 1, "b", "t9"),
        ]);
        assert_eq!(sorted_order(&df, None).unwrap(), None);
        assert_eq!(sorted_order(&df, Some(1)).unwrap(), None, "a before b");
    }

    /// Rows by customer and order key, the lines of one order by transaction id (text order:
    /// "t10" before "t9"), whatever order they came in.
    #[test]
    fn an_orders_lines_come_in_transaction_id_order() {
        let df = frame(&[
            (2, 1, "b", "t9"),
            (1, 5, "a", "t2"),
            (2, 1, "b", "t10"),
            (1, 5, "a", "t1"),
            (1, 3, "a", "t5"),
        ]);
        assert_eq!(sorted_order(&df, None).unwrap(), Some(vec![4, 3, 1, 2, 0]));
    }

    /// Customers keyed from `new_from` on come by their id's text, each one's rows together in
    /// their own order; those keyed before keep their place.
    #[test]
    fn new_customers_come_in_the_order_of_their_ids() {
        let df = frame(&[
            (7, 1, "c", "t1"),
            (5, 1, "z", "t2"),
            (8, 1, "a", "t3"),
            (6, 2, "b", "t4"),
            (6, 1, "b", "t5"),
            (3, 1, "y", "t6"),
        ]);
        // Keys 5.. are new: a (8), b (6), c (7), z (5) after y (3).
        assert_eq!(
            sorted_order(&df, Some(5)).unwrap(),
            Some(vec![5, 2, 4, 3, 0, 1])
        );
        assert_eq!(
            sorted_order(&df, None).unwrap(),
            Some(vec![5, 1, 4, 3, 0, 2])
        );
    }

    #[test]
    fn renumbered_keys_replace_the_new_ones_only() {
        let mut df = frame(&[
            (3, 1, "y", "t1"),
            (5, 1, "z", "t2"),
            (6, 1, "b", "t3"),
            (7, 1, "c", "t4"),
        ]);
        Renumbered {
            first: 5,
            new: vec![7, 5, 6],
        }
        .apply(&mut df)
        .unwrap();
        let keys: Vec<_> = df
            .column("customer_key")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(keys, [3, 7, 5, 6]);
    }
}
