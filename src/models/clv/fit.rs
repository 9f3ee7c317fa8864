//! Maximum likelihood on log-parameters, shared by both models: an [`Objective`] gives the
//! log-likelihood and its gradient in one pass; [`maximise`] runs L-BFGS on it and falls back to
//! Nelder-Mead where L-BFGS stops short.

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;

use super::FitError;

/// A model's log-likelihood over its data, on log-parameters: the sum over customers and its
/// gradient, computed together in one pass (every term the gradient needs is already at hand
/// when the likelihood is computed).
pub(super) trait Objective: Sync {
    /// The number of customers (sum of weights), to put the cost on a per-customer scale.
    fn customers(&self) -> f64;
    /// (sum of log-likelihoods, gradient of that sum with respect to the log-parameters).
    fn ll_grad(&self, theta: &[f64]) -> (f64, Vec<f64>);
}

/// Sums `f(range)` over `n` items in fixed chunks on rayon's pool, then adds the partial sums in
/// chunk order: the result does not depend on how many threads ran.
pub(super) fn chunked_sum<const K: usize>(
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
pub(super) fn maximise<O: Objective>(
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

/// Asserts that `objective`'s analytic gradient at `theta` matches central finite differences
/// of its log-likelihood (the tests of every model's gradient).
#[cfg(test)]
pub(super) fn assert_gradient(objective: &dyn Objective, theta: &[f64]) {
    let (ll, grad) = objective.ll_grad(theta);
    assert!(ll.is_finite(), "log-likelihood at {theta:?}: {ll}");
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
