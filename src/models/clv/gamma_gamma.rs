//! Gamma-Gamma (Fader & Hardie 2013): the value of a purchase, its likelihood, fit and expected
//! order value.

use statrs::function::gamma::{digamma, ln_gamma};

use super::fit::{Objective, chunked_sum, maximise};
use super::{FitError, GammaGamma, Summary};

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
pub(super) struct GgCost {
    xs: Vec<f64>,
    xi: Vec<usize>,
    x: Vec<f64>,
    ln_x: Vec<f64>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
}

impl GgCost {
    pub(super) fn new(points: &[(f64, f64)]) -> GgCost {
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
