//! Behavioural segments by k-means (linfa). Definition: METRICS.md "Clustering (behavioural
//! segments)": features log1p(R), log1p(F), log1p(max(M, 0)), each standardised; a fixed seed;
//! k from the config or the one in 2..=8 with the best mean silhouette on a deterministic sample
//! of at most 10,000 customers; profiles in original units ordered by mean M, descending.

use linfa::DatasetBase;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array1, Array2, Axis};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

pub const SILHOUETTE_SAMPLE: usize = 10_000;

/// One customer's recency (days), frequency (orders) and monetary value (net revenue).
#[derive(Debug, Clone, PartialEq)]
pub struct Rfm {
    pub customer_id: String,
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClusterError {
    #[error(
        "{0} customers to cluster: k-means needs at least 2 (check --as-of and the RFM window)"
    )]
    TooFew(usize),
    #[error(
        "{customers} customers but k = {k}: there cannot be more clusters than customers; choose a smaller k"
    )]
    KTooLarge { customers: usize, k: usize },
    #[error("k = {0}: choose k between 2 and 50")]
    BadK(usize),
    #[error(
        "all {0} customers have the same recency, frequency and monetary value: there is nothing to cluster"
    )]
    Degenerate(usize),
    #[error("k-means failed: {0}")]
    Fit(String),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Profile {
    /// 1 = the highest mean monetary value.
    pub cluster: usize,
    pub label: String,
    pub customers: usize,
    pub share_pct: f64,
    pub mean_recency_days: f64,
    pub median_recency_days: f64,
    pub mean_frequency: f64,
    pub median_frequency: f64,
    pub mean_monetary: f64,
    pub median_monetary: f64,
    pub revenue_share_pct: f64,
}

#[derive(Debug, Clone)]
pub struct Clustering {
    pub k: usize,
    /// Mean silhouette of each k tried (empty when k was given).
    pub silhouettes: Vec<(usize, f64)>,
    /// Cluster (1-based, in profile order) of each input customer.
    pub assignments: Vec<usize>,
    pub profiles: Vec<Profile>,
}

/// The standardised feature matrix.
pub fn features(data: &[Rfm]) -> Array2<f64> {
    let mut m = Array2::zeros((data.len(), 3));
    for (i, c) in data.iter().enumerate() {
        m[[i, 0]] = c.recency.max(0.0).ln_1p();
        m[[i, 1]] = c.frequency.max(0.0).ln_1p();
        m[[i, 2]] = c.monetary.max(0.0).ln_1p();
    }
    for mut col in m.axis_iter_mut(Axis(1)) {
        let mean = col.mean().unwrap_or(0.0);
        let sd = col.std(0.0);
        col.mapv_inplace(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 });
    }
    m
}

/// k-means with the best of `runs` k-means++ starts.
fn kmeans(
    x: &Array2<f64>,
    k: usize,
    seed: u64,
    runs: usize,
) -> Result<(Array2<f64>, Array1<usize>), ClusterError> {
    let dataset = DatasetBase::from(x.clone());
    let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
        .n_runs(runs)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&dataset)
        .map_err(|e| ClusterError::Fit(e.to_string()))?;
    let labels = model.predict(x);
    Ok((model.centroids().clone(), labels))
}

/// Mean silhouette of each labelling of the same points: for each point, (b - a) / max(a, b)
/// with a the mean distance to its own cluster and b the smallest mean distance to another;
/// 0 for a point alone in its cluster. One pass over the pairs serves every labelling, since
/// the distances do not depend on k.
pub fn silhouettes(x: &Array2<f64>, labellings: &[(Array1<usize>, usize)]) -> Vec<f64> {
    let n = x.nrows();
    // sums[l][i * k + c]: distance from point i to the points of cluster c in labelling l.
    let mut sums: Vec<Vec<f64>> = labellings.iter().map(|(_, k)| vec![0.0; n * k]).collect();
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    for i in 0..n {
        for j in (i + 1)..n {
            let d = rows[i]
                .iter()
                .zip(&rows[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            for (l, (labels, k)) in labellings.iter().enumerate() {
                sums[l][i * k + labels[j]] += d;
                sums[l][j * k + labels[i]] += d;
            }
        }
    }
    labellings
        .iter()
        .zip(&sums)
        .map(|((labels, k), sums)| {
            let k = *k;
            let sizes: Vec<usize> = (0..k)
                .map(|c| labels.iter().filter(|&&l| l == c).count())
                .collect();
            let mut total = 0.0;
            for i in 0..n {
                let own = labels[i];
                if sizes[own] <= 1 {
                    continue;
                }
                let a = sums[i * k + own] / (sizes[own] - 1) as f64;
                let b = (0..k)
                    .filter(|&c| c != own && sizes[c] > 0)
                    .map(|c| sums[i * k + c] / sizes[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                if b.is_finite() && a.max(b) > 0.0 {
                    total += (b - a) / a.max(b);
                }
            }
            total / n as f64
        })
        .collect()
}

/// Mean silhouette of one labelling.
pub fn silhouette(x: &Array2<f64>, labels: &Array1<usize>, k: usize) -> f64 {
    silhouettes(x, &[(labels.clone(), k)])[0]
}

/// A deterministic sample: every n/size-th customer in input order (callers sort by id).
fn sample_rows(n: usize, size: usize) -> Vec<usize> {
    if n <= size {
        return (0..n).collect();
    }
    (0..size).map(|i| i * n / size).collect()
}

pub fn cluster(data: &[Rfm], k: Option<usize>, seed: u64) -> Result<Clustering, ClusterError> {
    let n = data.len();
    if n < 2 {
        return Err(ClusterError::TooFew(n));
    }
    if let Some(k) = k {
        if !(2..=50).contains(&k) {
            return Err(ClusterError::BadK(k));
        }
        if k > n {
            return Err(ClusterError::KTooLarge { customers: n, k });
        }
    }
    let x = features(data);
    let distinct = {
        let mut rows: Vec<[u64; 3]> = x
            .rows()
            .into_iter()
            .map(|r| [r[0].to_bits(), r[1].to_bits(), r[2].to_bits()])
            .collect();
        rows.sort();
        rows.dedup();
        rows.len()
    };
    if distinct == 1 {
        return Err(ClusterError::Degenerate(n));
    }
    let mut silhouettes_out = Vec::new();
    let k = match k {
        Some(k) => k.min(distinct),
        None => {
            let rows = sample_rows(n, SILHOUETTE_SAMPLE);
            let sample = x.select(Axis(0), &rows);
            let mut labellings = Vec::new();
            for k in 2..=8.min(distinct) {
                labellings.push((kmeans(&sample, k, seed, 3)?.1, k));
            }
            let scores = silhouettes(&sample, &labellings);
            let mut best = (2, f64::NEG_INFINITY);
            for ((_, k), s) in labellings.iter().zip(scores) {
                silhouettes_out.push((*k, s));
                if s > best.1 + 1e-12 {
                    best = (*k, s);
                }
            }
            best.0
        }
    };
    let (_, labels) = kmeans(&x, k, seed, 10)?;
    let (assignments, profiles) = profile(data, &labels, k);
    Ok(Clustering {
        k,
        silhouettes: silhouettes_out,
        assignments,
        profiles,
    })
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Profiles in original units, renumbered 1..k by mean monetary value, descending.
fn profile(data: &[Rfm], labels: &Array1<usize>, k: usize) -> (Vec<usize>, Vec<Profile>) {
    let n = data.len() as f64;
    let total_revenue: f64 = data.iter().map(|c| c.monetary).sum();
    let (mut all_r, mut all_f, mut all_m): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        data.iter().map(|c| c.recency).collect(),
        data.iter().map(|c| c.frequency).collect(),
        data.iter().map(|c| c.monetary).collect(),
    );
    let (med_r, med_f, med_m) = (median(&mut all_r), median(&mut all_f), median(&mut all_m));
    let mut raw: Vec<(usize, Profile)> = (0..k)
        .filter_map(|c| {
            let members: Vec<&Rfm> = data
                .iter()
                .zip(labels.iter())
                .filter(|(_, l)| **l == c)
                .map(|(d, _)| d)
                .collect();
            if members.is_empty() {
                return None;
            }
            let size = members.len() as f64;
            let mut r: Vec<f64> = members.iter().map(|m| m.recency).collect();
            let mut f: Vec<f64> = members.iter().map(|m| m.frequency).collect();
            let mut m: Vec<f64> = members.iter().map(|m| m.monetary).collect();
            let (mean_r, mean_f, mean_m) = (
                r.iter().sum::<f64>() / size,
                f.iter().sum::<f64>() / size,
                m.iter().sum::<f64>() / size,
            );
            let revenue: f64 = m.iter().sum();
            let (mr, mf, mm) = (median(&mut r), median(&mut f), median(&mut m));
            let label = format!(
                "{}, {}, {}",
                if mr <= med_r { "recent" } else { "lapsed" },
                if mf > med_f {
                    "frequent"
                } else if mf < med_f {
                    "rare"
                } else {
                    "typical frequency"
                },
                if mm > med_m {
                    "high spending"
                } else {
                    "low spending"
                }
            );
            Some((
                c,
                Profile {
                    cluster: 0,
                    label,
                    customers: members.len(),
                    share_pct: round2(100.0 * size / n),
                    mean_recency_days: round2(mean_r),
                    median_recency_days: round2(mr),
                    mean_frequency: round2(mean_f),
                    median_frequency: round2(mf),
                    mean_monetary: round2(mean_m),
                    median_monetary: round2(mm),
                    revenue_share_pct: round2(if total_revenue != 0.0 {
                        100.0 * revenue / total_revenue
                    } else {
                        0.0
                    }),
                },
            ))
        })
        .collect();
    raw.sort_by(|a, b| {
        b.1.mean_monetary
            .total_cmp(&a.1.mean_monetary)
            .then(a.0.cmp(&b.0))
    });
    let mut renumber = vec![0; k];
    let profiles = raw
        .into_iter()
        .enumerate()
        .map(|(i, (c, mut p))| {
            renumber[c] = i + 1;
            p.cluster = i + 1;
            p
        })
        .collect();
    (labels.iter().map(|&l| renumber[l]).collect(), profiles)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three well-separated groups of customers in RFM space.
    fn blobs() -> Vec<Rfm> {
        let mut out = Vec::new();
        let centres = [(5.0, 40.0, 5000.0), (60.0, 8.0, 600.0), (400.0, 1.0, 30.0)];
        for (g, (r, f, m)) in centres.iter().enumerate() {
            for i in 0..60 {
                let wiggle = 1.0 + 0.05 * ((i % 7) as f64 - 3.0) / 3.0;
                out.push(Rfm {
                    customer_id: format!("g{g}-{i:02}"),
                    recency: r * wiggle,
                    frequency: (f * wiggle).round().max(1.0),
                    monetary: m * wiggle,
                });
            }
        }
        out
    }

    #[test]
    fn well_separated_blobs_are_recovered_exactly_and_the_silhouette_picks_their_k() {
        let data = blobs();
        let c = cluster(&data, None, 42).unwrap();
        assert_eq!(c.k, 3, "{:?}", c.silhouettes);
        // Every blob is one cluster, ordered by value: the big spenders are cluster 1.
        for (i, a) in c.assignments.iter().enumerate() {
            assert_eq!(*a, i / 60 + 1, "customer {}", data[i].customer_id);
        }
        assert_eq!(
            c.profiles.iter().map(|p| p.customers).collect::<Vec<_>>(),
            [60, 60, 60]
        );
        assert_eq!(c.profiles[0].label, "recent, frequent, high spending");
        assert_eq!(c.profiles[2].label, "lapsed, rare, low spending");
        let share: f64 = c.profiles.iter().map(|p| p.share_pct).sum();
        assert!((share - 100.0).abs() < 0.02);
    }

    #[test]
    fn the_same_input_and_seed_give_the_same_assignments() {
        let data = blobs();
        let a = cluster(&data, Some(4), 7).unwrap();
        let b = cluster(&data, Some(4), 7).unwrap();
        assert_eq!(a.assignments, b.assignments);
        assert_eq!(a.profiles, b.profiles);
    }

    #[test]
    fn degenerate_inputs_get_a_clear_message() {
        let same: Vec<Rfm> = (0..10)
            .map(|i| Rfm {
                customer_id: i.to_string(),
                recency: 3.0,
                frequency: 2.0,
                monetary: 50.0,
            })
            .collect();
        assert_eq!(
            cluster(&same, None, 1).unwrap_err(),
            ClusterError::Degenerate(10)
        );
        let two = &blobs()[..2];
        assert_eq!(
            cluster(two, Some(3), 1).unwrap_err(),
            ClusterError::KTooLarge { customers: 2, k: 3 }
        );
        assert_eq!(
            cluster(&two[..1], None, 1).unwrap_err(),
            ClusterError::TooFew(1)
        );
        assert!(
            cluster(&blobs(), Some(1), 1)
                .unwrap_err()
                .to_string()
                .contains("between 2 and 50")
        );
    }

    #[test]
    fn silhouette_of_a_perfect_split_is_near_one() {
        let x = ndarray::array![[0.0, 0.0], [0.0, 0.1], [10.0, 10.0], [10.0, 10.1]];
        let s = silhouette(&x, &ndarray::array![0, 0, 1, 1], 2);
        assert!(s > 0.98, "{s}");
    }
}
