//! Customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) for the purchase process and
//! Gamma-Gamma (Fader & Hardie 2013) for the value of a purchase, both fitted by maximum
//! likelihood on log-parameters with L-BFGS (argmin) on analytic gradients, Nelder-Mead as the
//! fallback. Definitions: METRICS.md "Customer lifetime value". Every model takes the same per-customer summary (`queries/marts/clv_summary.sql`).

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use statrs::function::gamma::{digamma, ln_gamma};

use super::special::hyp2f1;

/// One customer's summary, in weeks (METRICS.md "Customer lifetime value").
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub customer_id: String,
    /// x: repeat purchase days.
    pub frequency: f64,
    /// t_x: weeks from the first to the last purchase day.
    pub recency: f64,
    /// T: weeks from the first purchase day to the end of calibration.
    pub t: f64,
    /// Mean amount of the repeat purchase days; None when x = 0.
    pub monetary_value: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub log_likelihood: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
    /// Customers with repeat purchases whose mean value is <= 0 (refunds): left out of the fit.
    pub excluded_non_positive: usize,
    /// Customers the fit used (x > 0 and a positive mean value).
    pub customers: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("{model}: no customers to fit ({why})")]
    NoData { model: &'static str, why: String },
    #[error(
        "{model}: the fit did not converge after {iterations} iterations (last log-likelihood {ll:.2}); \
         try a longer calibration period, more customers, or check the data for customers with absurd values"
    )]
    NotConverged {
        model: &'static str,
        iterations: u64,
        ll: f64,
    },
    #[error("{model}: the optimiser failed: {message}")]
    Optimiser {
        model: &'static str,
        message: String,
    },
}

/// Customers with the same (x, t_x, T) contribute the same likelihood: fit on the distinct
/// triples, weighted, so that a million customers cost what their distinct histories cost.
#[derive(Debug, Clone)]
struct Grouped {
    x: Vec<f64>,
    /// Index of x in the distinct frequencies.
    xi: Vec<usize>,
    tx: Vec<f64>,
    t: Vec<f64>,
    /// Index of t_x and of T in the distinct times (recency and age are whole days or weeks
    /// in practice: a few hundred values among a million customers).
    txi: Vec<u32>,
    ti: Vec<u32>,
    weight: Vec<f64>,
}

fn group(data: &[Summary]) -> Grouped {
    let mut map: std::collections::HashMap<(u64, u64, u64), f64> = std::collections::HashMap::new();
    for s in data {
        *map.entry((s.frequency.to_bits(), s.recency.to_bits(), s.t.to_bits()))
            .or_default() += 1.0;
    }
    let mut keys: Vec<_> = map.into_iter().collect();
    keys.sort_by_key(|a| a.0);
    let mut g = Grouped {
        x: vec![],
        xi: vec![],
        tx: vec![],
        t: vec![],
        txi: vec![],
        ti: vec![],
        weight: vec![],
    };
    for ((x, tx, t), w) in keys {
        g.x.push(f64::from_bits(x));
        g.xi.push(0);
        g.tx.push(f64::from_bits(tx));
        g.t.push(f64::from_bits(t));
        g.weight.push(w);
    }
    g
}

/// The BG/NBD log-likelihood of one customer (the paper's equation 6, on logs).
pub fn bgnbd_ll(r: f64, alpha: f64, a: f64, b: f64, x: f64, tx: f64, t: f64) -> f64 {
    let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
    let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
    let a3 = -(r + x) * (alpha + t).ln();
    if x > 0.0 {
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln();
        let m = a3.max(a4);
        a1 + a2 + m + ((a3 - m).exp() + (a4 - m).exp()).ln()
    } else {
        a1 + a2 + a3
    }
}

/// A model's log-likelihood over its data, on log-parameters: the sum over customers and its
/// gradient, computed together in one pass (every term the gradient needs is already at hand
/// when the likelihood is computed).
trait Objective: Sync {
    /// The number of customers (sum of weights), to put the cost on a per-customer scale.
    fn customers(&self) -> f64;
    /// (sum of log-likelihoods, gradient of that sum with respect to the log-parameters).
    fn ll_grad(&self, theta: &[f64]) -> (f64, Vec<f64>);
}

/// Sums `f(range)` over `n` items in fixed chunks on rayon's pool, then adds the partial sums in
/// chunk order: the result does not depend on how many threads ran.
fn chunked_sum<const K: usize>(
    n: usize,
    f: impl Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
) -> [f64; K] {
    use rayon::prelude::*;
    const CHUNK: usize = 16_384;
    let parts: Vec<[f64; K]> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| f(c * CHUNK..((c + 1) * CHUNK).min(n)))
        .collect();
    let mut total = [0.0; K];
    for p in parts {
        for k in 0..K {
            total[k] += p[k];
        }
    }
    total
}

/// BG/NBD on the distinct (x, t_x, T) histories.
struct BgNbdObjective<'a> {
    g: &'a Grouped,
    xs: Vec<f64>,
    /// The distinct values of t_x and T together: the logs and reciprocals of alpha + t are
    /// computed once per value per pass instead of twice per history.
    times: Vec<f64>,
    customers: f64,
}

impl BgNbdObjective<'_> {
    fn new(g: &mut Grouped, customers: usize) -> BgNbdObjective<'_> {
        let xs = distinct_x(g);
        let times = distinct_times(g);
        BgNbdObjective {
            g,
            xs,
            times,
            customers: customers as f64,
        }
    }
}

impl Objective for BgNbdObjective<'_> {
    fn customers(&self) -> f64 {
        self.customers
    }

    fn ll_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let (r, alpha, a, b) = (
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp(),
            theta[3].exp(),
        );
        let g = self.g;
        // Terms in the parameters alone, per customer.
        let base = ln_gamma(a + b) - ln_gamma(b) - ln_gamma(r) + r * alpha.ln();
        let base_d = [
            -digamma(r) + alpha.ln(),
            r / alpha,
            digamma(a + b),
            digamma(a + b) - digamma(b),
        ];
        // Terms in x alone, once per distinct x: value, d/dr, d/da, d/db, ln(b + x - 1),
        // 1 / (b + x - 1).
        let by_x: Vec<[f64; 6]> = self
            .xs
            .iter()
            .map(|&x| {
                let pab = digamma(a + b + x);
                [
                    ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x),
                    digamma(r + x),
                    -pab,
                    digamma(b + x) - pab,
                    (b + x - 1.0).ln(),
                    1.0 / (b + x - 1.0),
                ]
            })
            .collect();
        // Terms in a time alone: ln(alpha + t), 1 / (alpha + t).
        let by_time: Vec<[f64; 2]> = self
            .times
            .iter()
            .map(|&t| [(alpha + t).ln(), 1.0 / (alpha + t)])
            .collect();
        let ln_a = a.ln();
        let s = chunked_sum::<5>(g.x.len(), |range| {
            let mut acc = [0.0; 5];
            for i in range {
                let (x, w) = (g.x[i], g.weight[i]);
                let bx = &by_x[g.xi[i]];
                let [lt, inv_t] = by_time[g.ti[i] as usize];
                let a3 = -(r + x) * lt;
                let base_terms = w * (bx[0] + a3);
                acc[1] += w * (bx[1] - lt);
                acc[2] -= w * (r + x) * inv_t;
                acc[3] += w * bx[2];
                acc[4] += w * bx[3];
                if x > 0.0 {
                    // The tail is log(e^A3 + e^A4) = A3 + log(1 + e^(A4 - A3)); w4 is the share
                    // of its second term, and each derivative moves by w4 * (dA4 - dA3).
                    let [ltx, inv_tx] = by_time[g.txi[i] as usize];
                    let a4 = ln_a - bx[4] - (r + x) * ltx;
                    let d = a4 - a3;
                    let (soft, w4) = if d > 0.0 {
                        let e = (-d).exp();
                        (d + e.ln_1p(), 1.0 / (1.0 + e))
                    } else {
                        let e = d.exp();
                        (e.ln_1p(), e / (1.0 + e))
                    };
                    acc[0] += base_terms + w * soft;
                    acc[1] += w * w4 * (lt - ltx);
                    acc[2] += w * w4 * (r + x) * (inv_t - inv_tx);
                    acc[3] += w * w4 / a;
                    acc[4] -= w * w4 * bx[5];
                } else {
                    acc[0] += base_terms;
                }
            }
            acc
        });
        let n = self.customers;
        let ll = s[0] + n * base;
        // Chain rule to log-parameters: d/d(ln v) = v * d/dv.
        let grad = vec![
            r * (s[1] + n * base_d[0]),
            alpha * (s[2] + n * base_d[1]),
            a * (s[3] + n * base_d[2]),
            b * (s[4] + n * base_d[3]),
        ];
        (ll, grad)
    }
}

/// What argmin optimises: the negative mean log-likelihood per customer (so that tolerances
/// mean the same for a hundred customers and for ten million) and its gradient. The last
/// evaluation is kept: L-BFGS and its line search ask for the cost and the gradient at the
/// same point one after the other, and one pass computes both.
struct Problem<'a, O: Objective> {
    objective: &'a O,
    last: std::sync::Mutex<Option<Evaluation>>,
}

/// A point, the cost there and the gradient there.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

impl<'a, O: Objective> Problem<'a, O> {
    fn new(objective: &'a O) -> Self {
        Problem {
            objective,
            last: std::sync::Mutex::new(None),
        }
    }

    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let mut last = self.last.lock().expect("not poisoned");
        if let Some((at, c, g)) = last.as_ref()
            && at.as_slice() == theta
        {
            return (*c, g.clone());
        }
        let (ll, grad) = self.objective.ll_grad(theta);
        let n = self.objective.customers();
        let (c, g) = if ll.is_finite() && grad.iter().all(|v| v.is_finite()) {
            (-ll / n, grad.iter().map(|v| -v / n).collect::<Vec<_>>())
        } else {
            // Outside the region where the likelihood is defined: a wall the line search backs off.
            (f64::INFINITY, vec![f64::NAN; theta.len()])
        };
        *last = Some((theta.to_vec(), c, g.clone()));
        (c, g)
    }
}

impl<O: Objective> CostFunction for Problem<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(p).0)
    }
}

impl<O: Objective> Gradient for Problem<'_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(p).1)
    }
}

/// Nelder-Mead needs a cost it can clone; the fallback path only.
struct Plain<'a, O: Objective>(&'a O);

impl<O: Objective> Clone for Plain<'_, O> {
    fn clone(&self) -> Self {
        Plain(self.0)
    }
}

impl<O: Objective> CostFunction for Plain<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let ll = self.0.ll_grad(p).0;
        Ok(if ll.is_finite() { -ll } else { f64::MAX })
    }
}

/// The largest gradient component, per customer, at which a fit counts as converged. The
/// parameters then sit within about this much (relative) of the optimum, well inside the four
/// significant digits the published values are checked to.
const GRADIENT_TOLERANCE: f64 = 1e-7;

/// Maximum likelihood on log-parameters from `start`: L-BFGS with a More-Thuente line search
/// on the analytic gradient (tens of passes over the data). If it stops short of a stationary
/// point, Nelder-Mead (thousands of passes, but it needs no gradient) carries on from where it
/// stopped. Returns the parameters and the negative log-likelihood (sum over customers).
fn maximise<O: Objective>(
    model: &'static str,
    objective: &O,
    start: Vec<f64>,
) -> Result<(Vec<f64>, f64), FitError> {
    let problem = Problem::new(objective);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 8)
        .with_tolerance_grad(GRADIENT_TOLERANCE * 1e-2)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| FitError::Optimiser {
            model,
            message: e.to_string(),
        })?;
    let outcome = Executor::new(problem, solver)
        .configure(|s| s.param(start.clone()).max_iters(300))
        .run();
    let best = match &outcome {
        Ok(res) => res
            .state()
            .get_best_param()
            .cloned()
            .unwrap_or(start.clone()),
        Err(_) => start.clone(),
    };
    let check = Problem::new(objective);
    let (cost, grad) = check.eval(&best);
    if cost.is_finite() && grad.iter().all(|g| g.abs() < GRADIENT_TOLERANCE) {
        return Ok((best, cost * objective.customers()));
    }
    minimise(model, &Plain(objective), best)
}

/// Nelder-Mead on log-parameters from `start`, restarted from its own optimum until the
/// log-likelihood stops improving (a single Nelder-Mead run can stall on a ridge).
fn minimise<C>(model: &'static str, cost: &C, start: Vec<f64>) -> Result<(Vec<f64>, f64), FitError>
where
    C: CostFunction<Param = Vec<f64>, Output = f64> + Clone,
{
    let mut best = start;
    let mut best_cost = f64::MAX;
    for _round in 0..8 {
        let n = best.len();
        let mut simplex = vec![best.clone()];
        for i in 0..n {
            let mut v = best.clone();
            v[i] += 0.5;
            simplex.push(v);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-10)
            .map_err(|e| FitError::Optimiser {
                model,
                message: e.to_string(),
            })?;
        let res = Executor::new(cost.clone(), solver)
            .configure(|s| s.max_iters(3000))
            .run()
            .map_err(|e| FitError::Optimiser {
                model,
                message: e.to_string(),
            })?;
        let state = res.state();
        let param = state.get_best_param().cloned().unwrap_or(best.clone());
        let c = state.get_best_cost();
        let hit_limit = matches!(
            state.get_termination_status(),
            TerminationStatus::Terminated(TerminationReason::MaxItersReached)
        );
        let improvement = best_cost - c;
        if c < best_cost {
            best = param;
            best_cost = c;
        }
        // Converged when a fresh simplex around the optimum finds nothing better: a flat ridge
        // (Gamma-Gamma has one) can keep the simplex from shrinking below the tolerance.
        if improvement.abs() < 1e-7 {
            return Ok((best, best_cost));
        }
        if hit_limit && _round == 7 {
            return Err(FitError::NotConverged {
                model,
                iterations: state.get_iter(),
                ll: -c,
            });
        }
    }
    if !best_cost.is_finite() || best_cost == f64::MAX {
        return Err(FitError::NotConverged {
            model,
            iterations: 0,
            ll: f64::NAN,
        });
    }
    Ok((best, best_cost))
}

/// The distinct frequencies, and each group's index into them.
fn distinct_x(g: &mut Grouped) -> Vec<f64> {
    let mut xs: Vec<f64> = g.x.clone();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    for i in 0..g.x.len() {
        g.xi[i] = xs
            .binary_search_by(|v| v.total_cmp(&g.x[i]))
            .expect("present");
    }
    xs
}

/// The distinct values of t_x and T, and each group's indices into them.
fn distinct_times(g: &mut Grouped) -> Vec<f64> {
    let mut ts: Vec<f64> = g.tx.iter().chain(&g.t).copied().collect();
    ts.sort_by(f64::total_cmp);
    ts.dedup();
    let index = |v: f64| ts.binary_search_by(|p| p.total_cmp(&v)).expect("present") as u32;
    g.txi = g.tx.iter().map(|&v| index(v)).collect();
    g.ti = g.t.iter().map(|&v| index(v)).collect();
    ts
}

/// Where L-BFGS starts: the best point of a coarse grid of log-parameters, alpha first (with
/// a = b = 1), then (a, b): 13 likelihood passes. From r = alpha = a = b = 1 it took 275
/// iterations on customers who almost never drop out (the optimum there has b in the hundreds,
/// at the end of a long ridge). The optimum and the convergence test are unchanged: only the way
/// there is shorter.
fn bgnbd_start(objective: &BgNbdObjective) -> Vec<f64> {
    let ll = |theta: &[f64]| {
        let ll = objective.ll_grad(theta).0;
        if ll.is_finite() {
            ll
        } else {
            f64::NEG_INFINITY
        }
    };
    let best_of = |candidates: Vec<Vec<f64>>| {
        candidates
            .into_iter()
            .map(|t| (ll(&t), t))
            .fold((f64::NEG_INFINITY, vec![0.0; 4]), |best, c| {
                if c.0 > best.0 { c } else { best }
            })
            .1
    };
    let start = best_of(
        [0.0, 2.0, 4.0, 6.0]
            .into_iter()
            .map(|log_alpha| vec![0.0, log_alpha, 0.0, 0.0])
            .collect(),
    );
    best_of(
        [
            (0.0, 0.0),
            (0.0, 2.0),
            (0.0, 4.0),
            (1.0, 3.0),
            (1.0, 5.0),
            (1.0, 7.0),
            (2.0, 4.0),
            (2.0, 6.0),
            (-1.0, 0.0),
        ]
        .into_iter()
        .map(|(log_a, log_b)| vec![start[0], start[1], log_a, log_b])
        .collect(),
    )
}

/// Fits BG/NBD by maximum likelihood.
pub fn fit_bgnbd(data: &[Summary]) -> Result<BgNbd, FitError> {
    if data.is_empty() {
        return Err(FitError::NoData {
            model: "BG/NBD",
            why: "no customer has a purchase before the calibration end".into(),
        });
    }
    if data.iter().all(|s| s.frequency == 0.0) {
        return Err(FitError::NoData {
            model: "BG/NBD",
            why: "no customer made a repeat purchase: the drop-out process cannot be estimated; use a longer calibration period".into(),
        });
    }
    let mut g = group(data);
    let objective = BgNbdObjective::new(&mut g, data.len());
    let (p, cost) = maximise("BG/NBD", &objective, bgnbd_start(&objective))?;
    Ok(BgNbd {
        r: p[0].exp(),
        alpha: p[1].exp(),
        a: p[2].exp(),
        b: p[3].exp(),
        log_likelihood: -cost,
    })
}

impl BgNbd {
    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b, .. } = *self;
        let ln_ratio = (r + x) * ((alpha + t).ln() - (alpha + tx).ln());
        1.0 / (1.0 + (a / (b + x - 1.0)) * ln_ratio.exp())
    }

    /// E[Y(horizon) | x, t_x, T]: expected purchases in the `horizon` weeks after T
    /// (the paper's equation 10).
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b, .. } = *self;
        let z = horizon / (alpha + t + horizon);
        let ln_pow = (r + x) * ((alpha + t).ln() - (alpha + t + horizon).ln());
        let num = (a + b + x - 1.0) / (a - 1.0)
            * (1.0 - ln_pow.exp() * hyp2f1(r + x, b + x, a + b + x - 1.0, z));
        let den = if x > 0.0 {
            1.0 + (a / (b + x - 1.0)) * ((r + x) * ((alpha + t).ln() - (alpha + tx).ln())).exp()
        } else {
            1.0
        };
        num / den
    }
}

/// The Gamma-Gamma log-likelihood of one customer with x repeat purchases of mean value m.
pub fn gamma_gamma_ll(p: f64, q: f64, gamma: f64, x: f64, m: f64) -> f64 {
    ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
        + q * gamma.ln()
        + (p * x - 1.0) * m.ln()
        + (p * x) * x.ln()
        - (p * x + q) * (x * m + gamma).ln()
}

/// Gamma-Gamma's data, prepared once: per customer the index of its x among the distinct
/// frequencies, x, ln x, m and ln m, so that an evaluation costs one logarithm per customer and
/// the gamma-function terms are computed once per distinct x.
#[derive(Clone)]
struct GgCost {
    xs: Vec<f64>,
    xi: Vec<usize>,
    x: Vec<f64>,
    ln_x: Vec<f64>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
}

impl GgCost {
    fn new(points: &[(f64, f64)]) -> GgCost {
        let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        GgCost {
            xi: points
                .iter()
                .map(|p| xs.binary_search_by(|v| v.total_cmp(&p.0)).expect("present"))
                .collect(),
            x: points.iter().map(|p| p.0).collect(),
            ln_x: points.iter().map(|p| p.0.ln()).collect(),
            m: points.iter().map(|p| p.1).collect(),
            ln_m: points.iter().map(|p| p.1.ln()).collect(),
            xs,
        }
    }
}

impl Objective for GgCost {
    fn customers(&self) -> f64 {
        self.x.len() as f64
    }

    fn ll_grad(&self, par: &[f64]) -> (f64, Vec<f64>) {
        let (p, q, g) = (par[0].exp(), par[1].exp(), par[2].exp());
        // gamma_gamma_ll, with its terms in x alone computed once per distinct x:
        // value, d/dp (before the factor x), d/dq.
        let by_x: Vec<[f64; 3]> = self
            .xs
            .iter()
            .map(|&x| {
                let both = digamma(p * x + q);
                [
                    ln_gamma(p * x + q) - ln_gamma(p * x),
                    both - digamma(p * x),
                    both,
                ]
            })
            .collect();
        let ln_g = g.ln();
        let s = chunked_sum::<4>(self.x.len(), |range| {
            let mut acc = [0.0; 4];
            for i in range {
                let (x, bx) = (self.x[i], &by_x[self.xi[i]]);
                let px = p * x;
                let denom = x * self.m[i] + g;
                let l = denom.ln();
                acc[0] += bx[0] + (px - 1.0) * self.ln_m[i] + px * self.ln_x[i] - (px + q) * l;
                acc[1] += x * (bx[1] + self.ln_m[i] + self.ln_x[i] - l);
                acc[2] += bx[2] - l;
                acc[3] -= (px + q) / denom;
            }
            acc
        });
        let n = self.customers();
        let ll = s[0] + n * (q * ln_g - ln_gamma(q));
        let grad = vec![
            p * s[1],
            q * (s[2] + n * (ln_g - digamma(q))),
            g * (s[3] + n * q / g),
        ];
        (ll, grad)
    }
}

/// Fits Gamma-Gamma on the customers with repeat purchases and a positive mean value; the ones
/// with a mean value <= 0 are counted in `excluded_non_positive`.
pub fn fit_gamma_gamma(data: &[Summary]) -> Result<GammaGamma, FitError> {
    let mut excluded = 0;
    let mut points = Vec::new();
    for s in data.iter().filter(|s| s.frequency > 0.0) {
        match s.monetary_value {
            Some(m) if m > 0.0 => points.push((s.frequency, m)),
            _ => excluded += 1,
        }
    }
    if points.is_empty() {
        return Err(FitError::NoData {
            model: "Gamma-Gamma",
            why: format!(
                "no customer with repeat purchases of positive mean value ({excluded} left out with a mean <= 0)"
            ),
        });
    }
    let (p, cost) = maximise("Gamma-Gamma", &GgCost::new(&points), vec![0.0, 0.0, 0.0])?;
    Ok(GammaGamma {
        p: p[0].exp(),
        q: p[1].exp(),
        gamma: p[2].exp(),
        log_likelihood: -cost,
        excluded_non_positive: excluded,
        customers: points.len(),
    })
}

impl GammaGamma {
    /// E[M | x, m]: the expected value of a customer's future purchase. Customers with no
    /// repeat purchase (or a non-positive mean) get the population mean p * gamma / (q - 1).
    pub fn expected_order_value(&self, x: f64, m: Option<f64>) -> f64 {
        let GammaGamma { p, q, gamma, .. } = *self;
        match m {
            Some(m) if x > 0.0 && m > 0.0 => (gamma + x * m) * p / (p * x + q - 1.0),
            _ => p * gamma / (q - 1.0),
        }
    }
}

/// Weeks in a month, as lifetimes counts them, so that figures compare.
pub const WEEKS_PER_MONTH: f64 = 4.345;

/// CLV = sum over months i of value * (E[X(t_i)] - E[X(t_{i-1})]) / (1 + d)^i.
pub fn clv(bg: &BgNbd, value: f64, s: &Summary, months: u32, monthly_discount: f64) -> f64 {
    let mut total = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let e = bg.expected_purchases(i as f64 * WEEKS_PER_MONTH, s.frequency, s.recency, s.t);
        total += value * (e - previous) / (1.0 + monthly_discount).powi(i as i32);
        previous = e;
    }
    total
}

/// Customers drawn from the models' own generative story with CDNOW's published parameters
/// (BG/NBD r = 0.2426, alpha = 4.4136, a = 0.7929, b = 2.4259; Gamma-Gamma p = 6.25, q = 3.74,
/// gamma = 15.44), first purchases spread over the first 70 of 104 weeks and counted in whole
/// days, as a warehouse gives them. For benchmarks and for tests that the fitters recover
/// known parameters.
pub fn simulate(n: usize, seed: u64) -> Vec<Summary> {
    simulate_with(n, seed, (0.2426, 4.4136, 0.7929, 2.4259))
}

/// As [`simulate`], with the BG/NBD parameters (r, alpha, a, b) given.
pub fn simulate_with(n: usize, seed: u64, (r, alpha, a, b): (f64, f64, f64, f64)) -> Vec<Summary> {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Beta, Distribution, Exp, Gamma};
    let (p, q, gamma) = (6.25, 3.74, 15.44);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let rate = Gamma::<f64>::new(r, 1.0 / alpha).expect("valid");
    let dropout = Beta::<f64>::new(a, b).expect("valid");
    let nu = Gamma::<f64>::new(q, 1.0 / gamma).expect("valid");
    (0..n)
        .map(|i| {
            let first_day: u32 = rng.random_range(0..490);
            let t_days = 728 - first_day;
            let lambda = rate.sample(&mut rng).max(1e-9) / 7.0;
            let pdrop = dropout.sample(&mut rng);
            let (mut day, mut last, mut x) = (0.0, 0u32, 0u32);
            loop {
                day += Exp::new(lambda).expect("positive").sample(&mut rng);
                // Same-day purchases merge: a new purchase day must be a later day.
                if day >= t_days as f64 {
                    break;
                }
                if day as u32 > last || x == 0 {
                    x += 1;
                    last = day as u32;
                }
                if rng.random::<f64>() < pdrop {
                    break;
                }
            }
            let value = Gamma::<f64>::new(p, 1.0 / nu.sample(&mut rng)).expect("valid");
            let m = (x > 0).then(|| (0..x).map(|_| value.sample(&mut rng)).sum::<f64>() / x as f64);
            Summary {
                customer_id: i.to_string(),
                frequency: x as f64,
                recency: last as f64 / 7.0,
                t: t_days as f64 / 7.0,
                monetary_value: m,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_probabilities_and_expectations_grow_with_the_horizon() {
        let bg = BgNbd {
            r: 0.2426,
            alpha: 4.4136,
            a: 0.7929,
            b: 2.4259,
            log_likelihood: 0.0,
        };
        for (x, tx, t) in [
            (0.0, 0.0, 38.86),
            (2.0, 30.43, 38.86),
            (5.0, 10.0, 38.86),
            (1.0, 1.71, 38.86),
        ] {
            let p = bg.p_alive(x, tx, t);
            assert!((0.0..=1.0).contains(&p), "{p}");
            let mut prev = 0.0;
            for h in [1.0, 10.0, 39.0, 100.0] {
                let e = bg.expected_purchases(h, x, tx, t);
                assert!(e > prev, "E[X({h})] = {e} after {prev}");
                prev = e;
            }
        }
        // A customer who bought recently is more likely alive than one who stopped long ago.
        assert!(bg.p_alive(5.0, 38.0, 38.86) > bg.p_alive(5.0, 5.0, 38.86));
    }

    #[test]
    fn the_fitters_recover_the_parameters_customers_were_drawn_with() {
        let data = simulate(6000, 7);
        let bg = fit_bgnbd(&data).unwrap();
        for (got, want, tol) in [
            (bg.r, 0.2426, 0.25),
            (bg.alpha, 4.4136, 0.35),
            (bg.a, 0.7929, 0.4),
            (bg.b, 2.4259, 0.5),
        ] {
            assert!(
                (got - want).abs() <= tol * want,
                "BG/NBD {got} vs {want}: {bg:?}"
            );
        }
        let gg = fit_gamma_gamma(&data).unwrap();
        // Gamma-Gamma's mean order value p * gamma / (q - 1) is what is identified well.
        let mean = gg.p * gg.gamma / (gg.q - 1.0);
        let want = 6.25 * 15.44 / 2.74;
        assert!((mean - want).abs() < 0.1 * want, "{gg:?}");
    }

    #[test]
    fn the_prepared_gamma_gamma_cost_equals_the_per_customer_log_likelihood() {
        let points = [(1.0, 20.0), (3.0, 35.5), (1.0, 12.0), (7.0, 80.0)];
        let (p, q, g) = (6.25f64, 3.74f64, 15.44f64);
        let direct: f64 = points
            .iter()
            .map(|&(x, m)| gamma_gamma_ll(p, q, g, x, m))
            .sum();
        let (prepared, _) = GgCost::new(&points).ll_grad(&[p.ln(), q.ln(), g.ln()]);
        assert!(
            (prepared - direct).abs() < 1e-9 * direct.abs(),
            "{prepared} vs {direct}"
        );
    }

    /// The analytic gradients against central finite differences of the likelihood itself.
    #[test]
    fn analytic_gradients_match_finite_differences() {
        fn check(objective: &dyn Objective, theta: &[f64]) {
            let (_, grad) = objective.ll_grad(theta);
            for k in 0..theta.len() {
                let h = 1e-5;
                let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
                up[k] += h;
                down[k] -= h;
                let numeric = (objective.ll_grad(&up).0 - objective.ll_grad(&down).0) / (2.0 * h);
                assert!(
                    (grad[k] - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                    "component {k} at {theta:?}: analytic {} vs numeric {numeric}",
                    grad[k]
                );
            }
        }
        let data = simulate(3000, 11);
        let mut g = group(&data);
        let bg = BgNbdObjective::new(&mut g, data.len());
        for theta in [
            [0.0, 0.0, 0.0, 0.0],
            [-1.4, 1.5, -0.2, 0.9],
            [0.7, -0.5, 1.1, -1.3],
        ] {
            check(&bg, &theta);
        }
        let points: Vec<(f64, f64)> = data
            .iter()
            .filter_map(|s| s.monetary_value.map(|m| (s.frequency, m)))
            .collect();
        let gg = GgCost::new(&points);
        for theta in [[0.0, 0.0, 0.0], [1.8, 1.3, 2.7], [-0.5, 2.0, 0.3]] {
            check(&gg, &theta);
        }
    }

    #[test]
    fn gamma_gamma_mean_shrinks_toward_the_population() {
        let gg = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
            log_likelihood: 0.0,
            excluded_non_positive: 0,
            customers: 0,
        };
        let population = gg.expected_order_value(0.0, None);
        assert!((population - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        let one = gg.expected_order_value(1.0, Some(100.0));
        let many = gg.expected_order_value(20.0, Some(100.0));
        assert!(population < one && one < many && many < 100.0);
    }
}
