//! k-means behavioural segments with profiles a manager can read (`crm cluster`, `crm segment
//! --by kmeans`, the cluster tables of `crm run` and the report's cluster chart).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::cluster::{self, Clustering, Rfm};

/// R, F and M of every customer scored by RFM (METRICS.md "RFM"), by customer id.
pub async fn rfm_inputs(engine: &Engine) -> Result<Vec<Rfm>> {
    let rows = engine.read("cluster_inputs", vec![]).await?;
    let mut out = Vec::new();
    for b in &rows.batches {
        let ids = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)
            .map_err(|e| Error::query("cluster", e))?;
        let ids = ids.as_any().downcast_ref::<StringArray>().expect("utf8");
        let f = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("f64")
                .clone()
        };
        let (r, fr, m) = (f(1), f(2), f(3));
        for i in 0..b.num_rows() {
            out.push(Rfm {
                customer_id: ids.value(i).to_string(),
                recency: r.value(i),
                frequency: fr.value(i),
                monetary: if m.is_null(i) { 0.0 } else { m.value(i) },
            });
        }
    }
    Ok(out)
}

pub fn profiles_batch(c: &Clustering) -> RecordBatch {
    let p = &c.profiles;
    let f = |g: &dyn Fn(&cluster::Profile) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(p.iter().map(g).collect::<Vec<_>>()))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("cluster", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("customers", DataType::Int64, false),
        Field::new("share_pct", DataType::Float64, false),
        Field::new("mean_recency_days", DataType::Float64, false),
        Field::new("median_recency_days", DataType::Float64, false),
        Field::new("mean_frequency", DataType::Float64, false),
        Field::new("median_frequency", DataType::Float64, false),
        Field::new("mean_monetary", DataType::Float64, false),
        Field::new("median_monetary", DataType::Float64, false),
        Field::new("revenue_share_pct", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            p.iter().map(|x| x.cluster as i64).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            p.iter().map(|x| x.label.clone()).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            p.iter().map(|x| x.customers as i64).collect::<Vec<_>>(),
        )),
        f(&|x| x.share_pct),
        f(&|x| x.mean_recency_days),
        f(&|x| x.median_recency_days),
        f(&|x| x.mean_frequency),
        f(&|x| x.median_frequency),
        f(&|x| x.mean_monetary),
        f(&|x| x.median_monetary),
        f(&|x| x.revenue_share_pct),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match")
}

pub fn assignments_batch(c: &Clustering, data: &[Rfm]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("cluster", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("recency_days", DataType::Float64, false),
        Field::new("frequency", DataType::Float64, false),
        Field::new("monetary", DataType::Float64, false),
    ]));
    let label = |k: usize| {
        c.profiles
            .iter()
            .find(|p| p.cluster == k)
            .map(|p| p.label.clone())
            .unwrap_or_default()
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(
            data.iter()
                .map(|d| d.customer_id.clone())
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            c.assignments.iter().map(|&k| k as i64).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            c.assignments.iter().map(|&k| label(k)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            data.iter().map(|d| d.recency).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            data.iter().map(|d| d.frequency).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            data.iter().map(|d| d.monetary).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match")
}

/// The clustering and the customers it was fitted on, in the same order.
pub struct Fit {
    pub clustering: Clustering,
    pub data: Vec<Rfm>,
}

pub async fn fit(engine: &Engine, k: Option<usize>, seed: u64) -> Result<Fit> {
    let data = rfm_inputs(engine).await?;
    let clustering = cluster::cluster(&data, k, seed).map_err(|e| Error::analysis("k-means", e))?;
    Ok(Fit { clustering, data })
}

/// How k was chosen, when it was: `k = 4 by mean silhouette (k=2: 0.41, ...)`.
pub fn k_note(c: &Clustering) -> Option<String> {
    if c.silhouettes.is_empty() {
        return None;
    }
    let tried: Vec<String> = c
        .silhouettes
        .iter()
        .map(|(k, s)| format!("k={k}: {s:.3}"))
        .collect();
    Some(format!(
        "k = {} by mean silhouette ({})",
        c.k,
        tried.join(", ")
    ))
}
