//! Customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) for the purchase process and
//! Gamma-Gamma (Fader & Hardie 2013) for the value of a purchase, both fitted by maximum
//! likelihood on log-parameters with L-BFGS (argmin) on analytic gradients, Nelder-Mead as the
//! fallback. Definitions: METRICS.md "Customer lifetime value". Every model takes the same per-customer summary (`queries/marts/clv_summary.sql`).
//!
//! `bgnbd.rs` and `gamma_gamma.rs` hold each model's likelihood and fit; `fit.rs` the maximum
//! likelihood machinery both share (the objective, L-BFGS with Nelder-Mead as the fallback).

mod bgnbd;
mod fit;
mod gamma_gamma;
mod pnbd;

pub use bgnbd::{bgnbd_ll, fit_bgnbd};
pub use gamma_gamma::{fit_gamma_gamma, gamma_gamma_ll};
pub use pnbd::{fit_pnbd, pnbd_ll};

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

/// Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases at a gamma-distributed rate
/// (r, alpha) until a lifetime of exponential length whose rate is gamma-distributed (s, beta).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
    pub log_likelihood: f64,
}

/// A fitted model of the purchase process: what CLV, P(alive) and expected purchases are
/// computed with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Purchases {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
}

impl Purchases {
    /// The model's name in outputs: `bgnbd` or `pnbd`.
    pub fn key(&self) -> &'static str {
        match self {
            Purchases::BgNbd(_) => "bgnbd",
            Purchases::ParetoNbd(_) => "pnbd",
        }
    }

    /// The model's name for people.
    pub fn title(&self) -> &'static str {
        match self {
            Purchases::BgNbd(_) => "BG/NBD",
            Purchases::ParetoNbd(_) => "Pareto/NBD",
        }
    }

    pub fn log_likelihood(&self) -> f64 {
        match self {
            Purchases::BgNbd(m) => m.log_likelihood,
            Purchases::ParetoNbd(m) => m.log_likelihood,
        }
    }

    /// The parameters and log-likelihood as a JSON object.
    pub fn params_json(&self) -> serde_json::Value {
        match self {
            Purchases::BgNbd(m) => serde_json::json!({
                "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b, "log_likelihood": m.log_likelihood,
            }),
            Purchases::ParetoNbd(m) => serde_json::json!({
                "r": m.r, "alpha": m.alpha, "s": m.s, "beta": m.beta, "log_likelihood": m.log_likelihood,
            }),
        }
    }

    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        match self {
            Purchases::BgNbd(m) => m.p_alive(x, tx, t),
            Purchases::ParetoNbd(m) => m.p_alive(x, tx, t),
        }
    }

    /// E[Y(horizon) | x, t_x, T]: expected purchases in the `horizon` weeks after T.
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        match self {
            Purchases::BgNbd(m) => m.expected_purchases(horizon, x, tx, t),
            Purchases::ParetoNbd(m) => m.expected_purchases(horizon, x, tx, t),
        }
    }
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

impl Grouped {
    /// Every k-th history, with its weight.
    fn every(&self, k: usize) -> Grouped {
        let pick = |v: &Vec<f64>| v.iter().step_by(k).copied().collect::<Vec<f64>>();
        Grouped {
            x: pick(&self.x),
            xi: self.xi.iter().step_by(k).copied().collect(),
            tx: pick(&self.tx),
            t: pick(&self.t),
            txi: self.txi.iter().step_by(k).copied().collect(),
            ti: self.ti.iter().step_by(k).copied().collect(),
            weight: pick(&self.weight),
        }
    }
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

/// Weeks in a month, as lifetimes counts them, so that figures compare.
pub const WEEKS_PER_MONTH: f64 = 4.345;

/// CLV = sum over months i of value * (E[X(t_i)] - E[X(t_{i-1})]) / (1 + d)^i.
pub fn clv(model: &Purchases, value: f64, s: &Summary, months: u32, monthly_discount: f64) -> f64 {
    let mut total = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let e = model.expected_purchases(i as f64 * WEEKS_PER_MONTH, s.frequency, s.recency, s.t);
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
    use super::bgnbd::BgNbdObjective;
    use super::fit::Objective;
    use super::gamma_gamma::GgCost;
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

    /// Fader & Hardie's BG/NBD spreadsheet for the paper's CDNOW example: with the published
    /// parameters, a customer with x = 2, t_x = 30.43, T = 38.86 makes 1.226 purchases in the
    /// next 39 weeks (the check lifetimes also runs against that spreadsheet).
    #[test]
    fn bgnbd_conditional_expectation_equals_the_published_spreadsheet_example() {
        let bg = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
            log_likelihood: 0.0,
        };
        let e = bg.expected_purchases(39.0, 2.0, 30.43, 38.86);
        assert!((e - 1.226).abs() < 5e-4, "{e}");
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
        use super::fit::assert_gradient as check;
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
