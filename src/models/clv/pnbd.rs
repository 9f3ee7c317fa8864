//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987): the likelihood as Fader, Hardie & Lee
//! write it in "A note on implementing the Pareto/NBD model" (2005), its gradient, the fit and
//! the predictions (P(alive), expected purchases).
//!
//! The likelihood of a customer with x repeat purchases, the last at t_x, observed until T is
//!
//! ```text
//! L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) · (A(t_x) − A(T)) ]
//! A(t) = 2F1(r+s+x, s+1; r+s+x+1; (α−β)/(α+t)) / (α+t)^(r+s+x)     (α ≥ β)
//! A(t) = 2F1(r+s+x, r+x; r+s+x+1; (β−α)/(β+t)) / (β+t)^(r+s+x)     (α < β)
//! ```
//!
//! Evaluated as written, the Gauss series overflows for a customer with many purchases (its
//! terms grow like (1−z)^-(r+x) before they fall). Euler's transformation
//! 2F1(a, b; c; z) = (1−z)^(c−a−b) 2F1(c−a, c−b; c; z) with c = a + 1 turns both cases into a
//! series F(b', c'; z) = 2F1(1, b'; c'; z) = Σ (b')_n / (c')_n z^n whose terms start at 1 and
//! only fall (c' > b', 0 <= z < 1), and moves the powers out in logs:
//!
//! ```text
//! A(t) = (α+t)^-(r+x)   (β+t)^-s     F(r+x, r+s+x+1; (α−β)/(α+t))     (α ≥ β)
//! A(t) = (α+t)^-(r+x−1) (β+t)^-(s+1) F(s+1, r+s+x+1; (β−α)/(β+t))     (α < β)
//! ```
//!
//! The derivatives of F in b', c' and z are sums over the same terms (d/db' of a term is the
//! term times Σ_{k<n} 1/(b'+k)), so the gradient is analytic and costs one pass too.

use statrs::function::gamma::{digamma, ln_gamma};

use super::fit::{Objective, chunked_sum, maximise};
use super::{FitError, Grouped, ParetoNbd, Summary, group};

/// Terms of F at most: the series has converged long before for any z a fit meets (z is
/// |α−β| / (max(α, β) + t), 0.09 at CDNOW's optimum); past this a far-off trial point of the
/// line search gets a slightly low value, which only steers it back.
const MAX_TERMS: usize = 20_000;

/// F(b', c'; z) = 2F1(1, b'; c'; z) and its derivatives in b', c' and z, divided by F:
/// (ln F, d ln F / db', d ln F / dc', d ln F / dz).
fn ln_f(b: f64, c: f64, z: f64) -> [f64; 4] {
    if z <= 0.0 {
        // F = 1; its derivative in z at 0 is b'/c'.
        return [0.0, 0.0, 0.0, b / c];
    }
    let (mut sum, mut db, mut dc, mut dz) = (1.0, 0.0, 0.0, 0.0);
    let (mut term, mut hb, mut hc) = (1.0f64, 0.0, 0.0);
    for n in 0..MAX_TERMS {
        let k = n as f64;
        // term_{n+1} = term_n * (b'+n) / (c'+n) * z
        hb += 1.0 / (b + k);
        hc += 1.0 / (c + k);
        term *= (b + k) / (c + k) * z;
        sum += term;
        db += term * hb;
        dc -= term * hc;
        dz += term * (k + 1.0);
        if term < 1e-17 * sum {
            break;
        }
    }
    [sum.ln(), db / sum, dc / sum, dz / (z * sum)]
}

/// ln A(t) and its derivatives in (r, α, s, β), for a customer with x repeat purchases.
fn ln_a(r: f64, alpha: f64, s: f64, beta: f64, x: f64, t: f64) -> [f64; 5] {
    let c = r + s + x + 1.0;
    let (la, lb) = ((alpha + t).ln(), (beta + t).ln());
    if alpha >= beta {
        let z = (alpha - beta) / (alpha + t);
        let [lf, fb, fc, fz] = ln_f(r + x, c, z);
        // dz/dα = (β+t)/(α+t)^2, dz/dβ = −1/(α+t)
        [
            -(r + x) * la - s * lb + lf,
            -la + fb + fc,
            -(r + x) / (alpha + t) + fz * (beta + t) / ((alpha + t) * (alpha + t)),
            -lb + fc,
            -s / (beta + t) - fz / (alpha + t),
        ]
    } else {
        let z = (beta - alpha) / (beta + t);
        let [lf, fb, fc, fz] = ln_f(s + 1.0, c, z);
        // dz/dβ = (α+t)/(β+t)^2, dz/dα = −1/(β+t)
        [
            -(r + x - 1.0) * la - (s + 1.0) * lb + lf,
            -la + fc,
            -(r + x - 1.0) / (alpha + t) - fz / (beta + t),
            -lb + fb + fc,
            -(s + 1.0) / (beta + t) + fz * (alpha + t) / ((beta + t) * (beta + t)),
        ]
    }
}

/// The bracket of the likelihood in logs, with its derivatives in (r, α, s, β):
/// ln[ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) (A(t_x) − A(T)) ], and the share of its first term
/// (which is P(alive)).
fn ln_bracket(r: f64, alpha: f64, s: f64, beta: f64, x: f64, tx: f64, t: f64) -> ([f64; 5], f64) {
    let at_t = AtTime::new(alpha, beta, t);
    let of_x = OfX::new(r, s, x);
    if tx >= t {
        return bracket(r, s, x, &at_t, &of_x, None);
    }
    let a_tx = ln_a(r, alpha, s, beta, x, tx);
    let a_t = ln_a(r, alpha, s, beta, x, t);
    bracket(r, s, x, &at_t, &of_x, Some((&a_tx, &a_t)))
}

/// The terms of the bracket in T alone: ln(α+T), 1/(α+T), ln(β+T), 1/(β+T).
struct AtTime([f64; 4]);

impl AtTime {
    fn new(alpha: f64, beta: f64, t: f64) -> AtTime {
        AtTime([
            (alpha + t).ln(),
            1.0 / (alpha + t),
            (beta + t).ln(),
            1.0 / (beta + t),
        ])
    }
}

/// The terms of the bracket in x alone: ln(s/(r+s+x)) and 1/(r+s+x).
struct OfX([f64; 2]);

impl OfX {
    fn new(r: f64, s: f64, x: f64) -> OfX {
        OfX([(s / (r + s + x)).ln(), 1.0 / (r + s + x)])
    }
}

/// [`ln_bracket`] from its terms in T and in x and from ln A(t_x) and ln A(T) (with their
/// derivatives), `None` when t_x >= T. Four exponentials and logarithms, so that a fit over
/// hundreds of thousands of distinct histories is not spent in libm.
fn bracket(
    r: f64,
    s: f64,
    x: f64,
    at_t: &AtTime,
    of_x: &OfX,
    a: Option<(&[f64; 5], &[f64; 5])>,
) -> ([f64; 5], f64) {
    let [la, ia, lb, ib] = at_t.0;
    let alive = [-(r + x) * la - s * lb, -la, -(r + x) * ia, -lb, -s * ib];
    let Some((a_tx, a_t)) = a else {
        // No time between the last purchase and T in which to have died.
        return (alive, 1.0);
    };
    // ln(s/(r+s+x)) + ln(A(t_x) − A(T)) = ln(s/(r+s+x)) + ln A(t_x) + ln(1 − e^d),
    // d = ln A(T) − ln A(t_x) < 0.
    let d = a_t[0] - a_tx[0];
    if d >= 0.0 {
        // t_x so close to T that A(T) rounds to A(t_x): the second term is nothing.
        return (alive, 1.0);
    }
    let em1 = d.exp_m1();
    let [ln_share, inv_rsx] = of_x.0;
    let ln_dead = ln_share + a_tx[0] + (-em1).ln();
    // d ln(A(t_x) − A(T)) = (A(t_x) dlnA(t_x) − A(T) dlnA(T)) / (A(t_x) − A(T))
    let share_t = (1.0 + em1) / -em1;
    let mut dead = [ln_dead, 0.0, 0.0, 0.0, 0.0];
    for k in 1..5 {
        dead[k] = a_tx[k] + share_t * (a_tx[k] - a_t[k]);
    }
    dead[1] -= inv_rsx;
    dead[3] += 1.0 / s - inv_rsx;
    // ln(e^alive + e^dead) = alive + ln(1 + e^u), u = dead − alive; w = 1 / (1 + e^u) is the
    // share of the first term.
    let u = dead[0] - alive[0];
    let (soft, w) = if u > 0.0 {
        let q = (-u).exp();
        (u + q.ln_1p(), q / (1.0 + q))
    } else {
        let q = u.exp();
        (q.ln_1p(), 1.0 / (1.0 + q))
    };
    let mut out = [alive[0] + soft, 0.0, 0.0, 0.0, 0.0];
    for k in 1..5 {
        out[k] = w * alive[k] + (1.0 - w) * dead[k];
    }
    (out, w)
}

/// The Pareto/NBD log-likelihood of one customer.
pub fn pnbd_ll(r: f64, alpha: f64, s: f64, beta: f64, x: f64, tx: f64, t: f64) -> f64 {
    ln_gamma(r + x) - ln_gamma(r)
        + r * alpha.ln()
        + s * beta.ln()
        + ln_bracket(r, alpha, s, beta, x, tx, t).0[0]
}

/// Pareto/NBD on the distinct (x, t_x, T) histories.
///
/// A(t) depends on x and t alone, and the series behind it is the whole cost of a pass (hundreds
/// of terms where β ≫ α + t). A million customers have some hundred thousand distinct histories
/// but only a few thousand distinct (x, t): each pass sums the series once per (x, t) and every
/// history reads its two values from that table.
pub(super) struct PnbdObjective<'a> {
    g: &'a Grouped,
    customers: f64,
    /// The distinct x, and per history the index of its x there.
    xs: Vec<f64>,
    x_of: Vec<u32>,
    /// The distinct T, and per history the index of its T there.
    ts: Vec<f64>,
    t_of: Vec<u32>,
    /// The distinct (x, t) at which some history needs A(t).
    at: Vec<(f64, f64)>,
    /// Per history, the indices in `at` of (x, t_x) and (x, T); `NO_DEAD` when t_x >= T.
    at_tx: Vec<u32>,
    at_t: Vec<u32>,
}

const NO_DEAD: u32 = u32::MAX;

/// The distinct values of `values`, ascending, and the index of each value among them.
fn distinct(values: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let mut set = values.to_vec();
    set.sort_by(f64::total_cmp);
    set.dedup();
    let index = values
        .iter()
        .map(|v| set.binary_search_by(|p| p.total_cmp(v)).expect("present") as u32)
        .collect();
    (set, index)
}

impl PnbdObjective<'_> {
    pub(super) fn new(g: &Grouped, customers: usize) -> PnbdObjective<'_> {
        use std::collections::HashMap;
        let (xs, x_of) = distinct(&g.x);
        let (ts, t_of) = distinct(&g.t);
        let mut index: HashMap<(u64, u64), u32> = HashMap::new();
        let mut at = Vec::new();
        let mut id = |x: f64, t: f64| {
            *index.entry((x.to_bits(), t.to_bits())).or_insert_with(|| {
                at.push((x, t));
                (at.len() - 1) as u32
            })
        };
        let (mut at_tx, mut at_t) = (Vec::with_capacity(g.x.len()), Vec::with_capacity(g.x.len()));
        for i in 0..g.x.len() {
            if g.tx[i] < g.t[i] {
                at_tx.push(id(g.x[i], g.tx[i]));
                at_t.push(id(g.x[i], g.t[i]));
            } else {
                at_tx.push(NO_DEAD);
                at_t.push(NO_DEAD);
            }
        }
        PnbdObjective {
            g,
            customers: customers as f64,
            xs,
            x_of,
            ts,
            t_of,
            at,
            at_tx,
            at_t,
        }
    }
}

impl Objective for PnbdObjective<'_> {
    fn customers(&self) -> f64 {
        self.customers
    }

    fn ll_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        use rayon::prelude::*;
        let (r, alpha, s, beta) = (
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp(),
            theta[3].exp(),
        );
        let g = self.g;
        // ln A and its derivatives once per distinct (x, t), in order (the result does not
        // depend on the number of threads).
        let a: Vec<[f64; 5]> = self
            .at
            .par_iter()
            .with_min_len(64)
            .map(|&(x, t)| ln_a(r, alpha, s, beta, x, t))
            .collect();
        // The terms in x alone (ln Γ(r+x), ψ(r+x) and the bracket's) and in T alone, once each.
        let by_x: Vec<([f64; 2], OfX)> = self
            .xs
            .iter()
            .map(|&x| ([ln_gamma(r + x), digamma(r + x)], OfX::new(r, s, x)))
            .collect();
        let by_t: Vec<AtTime> = self
            .ts
            .iter()
            .map(|&t| AtTime::new(alpha, beta, t))
            .collect();
        let sums = chunked_sum::<5>(g.x.len(), |range| {
            let mut acc = [0.0; 5];
            for i in range {
                let (x, w) = (g.x[i], g.weight[i]);
                let dead = (self.at_tx[i] != NO_DEAD)
                    .then(|| (&a[self.at_tx[i] as usize], &a[self.at_t[i] as usize]));
                let ([lg, dg], of_x) = &by_x[self.x_of[i] as usize];
                let at_t = &by_t[self.t_of[i] as usize];
                let (b, _) = bracket(r, s, x, at_t, of_x, dead);
                acc[0] += w * (lg + b[0]);
                acc[1] += w * (dg + b[1]);
                acc[2] += w * b[2];
                acc[3] += w * b[3];
                acc[4] += w * b[4];
            }
            acc
        });
        let n = self.customers;
        let ll = sums[0] + n * (-ln_gamma(r) + r * alpha.ln() + s * beta.ln());
        // Chain rule to log-parameters: d/d(ln v) = v * d/dv.
        let grad = vec![
            r * (sums[1] + n * (-digamma(r) + alpha.ln())),
            alpha * (sums[2] + n * r / alpha),
            s * (sums[3] + n * beta.ln()),
            beta * (sums[4] + n * s / beta),
        ];
        (ll, grad)
    }
}

/// Where L-BFGS starts: the best of a coarse grid of log-parameters (r = s = 1, then the
/// scales), as for BG/NBD. The grid costs 36 passes, more than the fit after it: past
/// [`START_SAMPLE`] distinct histories it is scored on an evenly spread sample of them (every
/// k-th in (x, t_x, T) order, so every frequency keeps its share): a start only has to be near.
fn pnbd_start(g: &Grouped, most: usize) -> Vec<f64> {
    let sample;
    let g = if g.x.len() > most {
        sample = g.every(g.x.len().div_ceil(most));
        &sample
    } else {
        g
    };
    let objective = PnbdObjective::new(g, g.weight.iter().sum::<f64>() as usize);
    let ll = |theta: &[f64]| {
        let ll = objective.ll_grad(theta).0;
        if ll.is_finite() {
            ll
        } else {
            f64::NEG_INFINITY
        }
    };
    let mut best = (f64::NEG_INFINITY, vec![0.0; 4]);
    for log_r in [-1.0, 0.0] {
        for log_alpha in [0.0, 2.0, 4.0] {
            for log_s in [-1.0, 0.0] {
                for log_beta in [0.0, 2.0, 4.0] {
                    let theta = vec![log_r, log_alpha, log_s, log_beta];
                    let v = ll(&theta);
                    if v > best.0 {
                        best = (v, theta);
                    }
                }
            }
        }
    }
    best.1
}

/// Distinct histories the start grid is scored on at most.
const START_SAMPLE: usize = 20_000;

/// Fits Pareto/NBD by maximum likelihood.
pub fn fit_pnbd(data: &[Summary]) -> Result<ParetoNbd, FitError> {
    fit_pnbd_from(data, START_SAMPLE)
}

/// [`fit_pnbd`], the start grid scored on at most `start_sample` distinct histories.
fn fit_pnbd_from(data: &[Summary], start_sample: usize) -> Result<ParetoNbd, FitError> {
    if data.is_empty() {
        return Err(FitError::NoData {
            model: "Pareto/NBD",
            why: "no customer has a purchase before the calibration end".into(),
        });
    }
    if data.iter().all(|s| s.frequency == 0.0) {
        return Err(FitError::NoData {
            model: "Pareto/NBD",
            why: "no customer made a repeat purchase: the drop-out process cannot be estimated; use a longer calibration period".into(),
        });
    }
    let g = group(data);
    let objective = PnbdObjective::new(&g, data.len());
    let (p, cost) = maximise("Pareto/NBD", &objective, pnbd_start(&g, start_sample))?;
    Ok(ParetoNbd {
        r: p[0].exp(),
        alpha: p[1].exp(),
        s: p[2].exp(),
        beta: p[3].exp(),
        log_likelihood: -cost,
    })
}

impl ParetoNbd {
    /// P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s (A(t_x) − A(T))): the
    /// share of the likelihood's first term.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        let ParetoNbd {
            r, alpha, s, beta, ..
        } = *self;
        ln_bracket(r, alpha, s, beta, x, tx, t).1
    }

    /// E[Y(horizon) | x, t_x, T]: expected purchases in the `horizon` weeks after T
    /// (Schmittlein, Morrison & Colombo's conditional expectation):
    /// (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive),
    /// which at s = 1 is (r+x)(β+T)/(α+T) · ln((β+T+t)/(β+T)) · P(alive).
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let ParetoNbd {
            r, alpha, s, beta, ..
        } = *self;
        // [1 − q^(s−1)] / (s−1) with ln q = −ln(1 + t/(β+T)): −expm1((s−1) ln q) / (s−1).
        let ln_q = -(horizon / (beta + t)).ln_1p();
        let growth = if (s - 1.0).abs() < 1e-9 {
            -ln_q
        } else {
            -((s - 1.0) * ln_q).exp_m1() / (s - 1.0)
        };
        (r + x) * (beta + t) / (alpha + t) * growth * self.p_alive(x, tx, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F against its series summed naively (small z, where the naive sum is exact).
    #[test]
    fn the_series_and_its_derivatives_match_a_plain_sum_and_finite_differences() {
        let naive = |b: f64, c: f64, z: f64| {
            let (mut sum, mut term) = (1.0, 1.0);
            for n in 0..400 {
                term *= (b + n as f64) / (c + n as f64) * z;
                sum += term;
            }
            sum
        };
        for (b, c, z) in [
            (1.55, 2.16, 0.09),
            (30.5, 31.7, 0.5),
            (1.6, 40.2, 0.8),
            (0.3, 0.9, 0.0),
        ] {
            let [lf, db, dc, dz] = ln_f(b, c, z);
            assert!((lf - naive(b, c, z).ln()).abs() < 1e-12, "{b} {c} {z}");
            let h = 1e-6;
            let num = |f: &dyn Fn(f64) -> f64, v: f64| (f(v + h) - f(v - h)) / (2.0 * h);
            assert!((db - num(&|v| naive(v, c, z).ln(), b)).abs() < 1e-6);
            assert!((dc - num(&|v| naive(b, v, z).ln(), c)).abs() < 1e-6);
            if z > 0.0 {
                assert!((dz - num(&|v| naive(b, c, v).ln(), z)).abs() < 1e-6);
            }
        }
    }

    /// The start scored on a sample of the histories leads to the optimum the full grid leads
    /// to (here 1 history in 20 of some 20,000).
    #[test]
    fn a_start_from_a_sample_of_histories_reaches_the_same_optimum() {
        let data = super::super::simulate(30_000, 11);
        let full = fit_pnbd_from(&data, usize::MAX).unwrap();
        let sampled = fit_pnbd_from(&data, 1_000).unwrap();
        for (a, b) in [
            (full.r, sampled.r),
            (full.alpha, sampled.alpha),
            (full.s, sampled.s),
            (full.beta, sampled.beta),
        ] {
            assert!((a - b).abs() < 1e-3 * a, "{full:?} vs {sampled:?}");
        }
        assert!((full.log_likelihood - sampled.log_likelihood).abs() < 1e-3);
    }

    /// The per-customer summary Fader, Hardie & Lee published for the CDNOW sample (x, t_x, T in
    /// weeks, calibration 1997-01-01..1997-09-30).
    fn paper_summary() -> Vec<Summary> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/cdnow/cdnow_sample_paper_summary.csv"
        );
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Summary {
                    customer_id: f[0].into(),
                    frequency: f[1].parse().unwrap(),
                    recency: f[2].parse().unwrap(),
                    t: f[3].parse().unwrap(),
                    monetary_value: None,
                }
            })
            .collect()
    }

    /// Four significant digits: |a - b| < 0.5 in the fourth significant digit of b.
    fn sig4(a: f64, b: f64) -> bool {
        let scale = 10f64.powf(b.abs().log10().floor() - 3.0);
        (a - b).abs() <= 0.5 * scale + 1e-12
    }

    /// Published (tests/data/cdnow/README.md): r = 0.5533, alpha = 10.5777, s = 0.6062,
    /// beta = 11.6687, LL = -9594.98.
    #[test]
    fn reproduces_the_published_cdnow_parameters_and_log_likelihood() {
        let data = paper_summary();
        assert_eq!(data.len(), 2357);
        let m = fit_pnbd(&data).unwrap();
        for (name, got, published) in [
            ("r", m.r, 0.5533),
            ("alpha", m.alpha, 10.5777),
            ("s", m.s, 0.6062),
            ("beta", m.beta, 11.6687),
        ] {
            assert!(
                sig4(got, published),
                "{name} = {got}, published {published}: {m:?}"
            );
        }
        assert!((m.log_likelihood - -9594.98).abs() < 0.01, "{m:?}");
        // The sum of the per-customer function is the fit's likelihood.
        let direct: f64 = data
            .iter()
            .map(|c| pnbd_ll(m.r, m.alpha, m.s, m.beta, c.frequency, c.recency, c.t))
            .sum();
        assert!((direct - m.log_likelihood).abs() < 1e-6, "{direct}");
    }

    /// The analytic gradient against central finite differences, on both sides of alpha = beta
    /// and at the extremes: no repeat purchase, 300 of them, the last at T.
    #[test]
    fn the_gradient_matches_finite_differences() {
        let mut data = paper_summary();
        data.truncate(400);
        for (x, tx, t) in [
            (0.0, 0.0, 38.86),
            (300.0, 38.0, 38.86),
            (12.0, 38.86, 38.86),
            (1.0, 0.14, 70.0),
        ] {
            data.push(Summary {
                customer_id: "edge".into(),
                frequency: x,
                recency: tx,
                t,
                monetary_value: None,
            });
        }
        let g = group(&data);
        let objective = PnbdObjective::new(&g, data.len());
        for theta in [
            [-0.59, 2.36, -0.50, 2.46],
            [-0.59, 2.60, -0.50, 1.90],
            [0.5, 0.1, 1.2, 3.0],
            [-2.0, 4.0, -1.5, 0.5],
        ] {
            super::super::fit::assert_gradient(&objective, &theta);
        }
    }

    /// P(alive) and E[Y(t)] against the model's definition integrated numerically, without the
    /// hypergeometric function or the closed forms:
    /// - integrating λ and μ out of "x purchases in (0, t_x], none after, alive at T" and of
    ///   "... died at y in (t_x, T)" gives, up to one common factor,
    ///   alive = (α+T)^-(r+x) (β+T)^-s and dead = s ∫_{t_x}^T (α+y)^-(r+x) (β+y)^-(s+1) dy,
    ///   so P(alive) = alive / (alive + dead);
    /// - alive, λ ~ Gamma(r+x, α+T) and μ ~ Gamma(s, β+T) independently, and the purchases in
    ///   the next t weeks are λ (1 − e^(−μt)) / μ = λ ∫_0^t e^(−μv) dv, whose mean is
    ///   (r+x)/(α+T) ∫_0^t ((β+T)/(β+T+v))^s dv.
    ///
    /// Both integrals by composite Simpson on 20,000 intervals.
    #[test]
    fn p_alive_and_expected_purchases_match_the_model_integrated_numerically() {
        fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
            let n = 20_000;
            let h = (b - a) / n as f64;
            let mut sum = f(a) + f(b);
            for i in 1..n {
                sum += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            sum * h / 3.0
        }
        let m = ParetoNbd {
            r: 0.5533,
            alpha: 10.5777,
            s: 0.6062,
            beta: 11.6687,
            log_likelihood: 0.0,
        };
        // CDNOW's has alpha < beta; this one the other branch of the likelihood.
        let other = ParetoNbd {
            alpha: 25.0,
            beta: 4.0,
            ..m
        };
        for model in [m, other] {
            let ParetoNbd {
                r, alpha, s, beta, ..
            } = model;
            for (x, tx, t) in [
                (0.0, 0.0, 38.86),
                (2.0, 30.43, 38.86),
                (5.0, 10.0, 38.86),
                (1.0, 1.71, 38.86),
                (25.0, 20.0, 60.0),
            ] {
                let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
                let dead = s * simpson(
                    |y| (-(r + x) * (alpha + y).ln() - (s + 1.0) * (beta + y).ln() - alive).exp(),
                    tx,
                    t,
                );
                let p = 1.0 / (1.0 + dead);
                let got = model.p_alive(x, tx, t);
                assert!(
                    (got - p).abs() < 1e-9,
                    "P(alive) {x} {tx} {t}: {got} vs {p} ({model:?})"
                );
                for horizon in [1.0, 39.0, 104.0] {
                    let e = (r + x) / (alpha + t)
                        * simpson(|v| ((beta + t) / (beta + t + v)).powf(s), 0.0, horizon)
                        * p;
                    let got = model.expected_purchases(horizon, x, tx, t);
                    assert!(
                        (got - e).abs() < 1e-9 * e.max(1.0),
                        "E[Y({horizon})] {x} {tx} {t}: {got} vs {e}"
                    );
                }
            }
        }
        // s = 1 exactly: the limit of the closed form.
        let one = ParetoNbd { s: 1.0, ..m };
        let e = (one.r + 2.0) / (one.alpha + 38.86)
            * simpson(|v| (one.beta + 38.86) / (one.beta + 38.86 + v), 0.0, 39.0)
            * one.p_alive(2.0, 30.43, 38.86);
        assert!((one.expected_purchases(39.0, 2.0, 30.43, 38.86) - e).abs() < 1e-9);
    }
}
