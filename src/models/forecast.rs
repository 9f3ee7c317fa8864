//! Sales forecasts side by side, each backtested on rolling origins. Definitions: METRICS.md
//! "Sales forecast": the seed formula, seasonal naive (the baseline), exponential smoothing
//! (augurs' AutoETS), and MSTL seasonal decomposition with an AutoETS trend (augurs) as the
//! seasonal statistical model (augurs' ETS has no seasonal component of its own yet), with 80%
//! and 95% intervals; MAE, RMSE, MAPE, sMAPE, MASE and interval coverage per model; the lowest
//! backtest MASE is recommended.

use augurs::ets::AutoETS;
use augurs::ets::trend::AutoETSTrendModel;
use augurs::mstl::MSTLModel;
use augurs::prelude::*;

/// z for two-sided 80% and 95% normal intervals.
const Z80: f64 = 1.281_551_565_545;
const Z95: f64 = 1.959_963_984_540;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Method {
    Seed,
    SeasonalNaive,
    Ets,
    MstlEts,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Seed,
        Method::SeasonalNaive,
        Method::Ets,
        Method::MstlEts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Seed => "seed",
            Method::SeasonalNaive => "seasonal_naive",
            Method::Ets => "ets",
            Method::MstlEts => "mstl_ets",
        }
    }

    /// Observations a fit needs.
    pub fn min_history(self, season: usize, lookback: usize) -> usize {
        match self {
            Method::Seed => lookback.max(2),
            Method::SeasonalNaive => season + 1,
            Method::Ets => 6,
            Method::MstlEts => 2 * season + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub point: Vec<f64>,
    /// (lower, upper) at 80% and 95%; None where the method gives no interval (seed).
    pub interval80: Option<(Vec<f64>, Vec<f64>)>,
    pub interval95: Option<(Vec<f64>, Vec<f64>)>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ForecastError {
    #[error("{method}: {have} periods of history, it needs at least {need}")]
    TooShort {
        method: &'static str,
        have: usize,
        need: usize,
    },
    #[error("{method}: {message}")]
    Model {
        method: &'static str,
        message: String,
    },
}

/// Forecasts `horizon` periods after `y` with `method`.
pub fn predict(
    method: Method,
    y: &[f64],
    season: usize,
    lookback: usize,
    horizon: usize,
) -> Result<Prediction, ForecastError> {
    let need = method.min_history(season, lookback);
    if y.len() < need {
        return Err(ForecastError::TooShort {
            method: method.name(),
            have: y.len(),
            need,
        });
    }
    let model_err = |e: &dyn std::fmt::Display| ForecastError::Model {
        method: method.name(),
        message: e.to_string(),
    };
    match method {
        Method::Seed => match seed(y, lookback, horizon) {
            Some(point) => Ok(Prediction {
                point,
                interval80: None,
                interval95: None,
            }),
            None => Err(ForecastError::Model {
                method: "seed",
                message: format!(
                    "no growth rate: each of the last {lookback} periods follows one without revenue"
                ),
            }),
        },
        Method::SeasonalNaive => Ok(seasonal_naive(y, season, horizon)),
        Method::Ets => {
            let fitted = AutoETS::non_seasonal().fit(y).map_err(|e| model_err(&e))?;
            let f80 = fitted.predict(horizon, 0.8).map_err(|e| model_err(&e))?;
            let f95 = fitted.predict(horizon, 0.95).map_err(|e| model_err(&e))?;
            Ok(from_augurs(f80, f95))
        }
        Method::MstlEts => {
            let model = MSTLModel::new(
                mstl_seasons(season, y.len()),
                AutoETSTrendModel::from(AutoETS::non_seasonal()),
            );
            let fitted = model.fit(y).map_err(|e| model_err(&e))?;
            let f80 = fitted.predict(horizon, 0.8).map_err(|e| model_err(&e))?;
            let f95 = fitted.predict(horizon, 0.95).map_err(|e| model_err(&e))?;
            // The intervals MSTL returns are the trend model's alone and come out too narrow (a
            // test with known noise showed 95% bands missing); add the in-sample residual
            // variance of the whole model, seasonal part included.
            let in_sample = fitted.predict_in_sample(None).map_err(|e| model_err(&e))?;
            let resid: Vec<f64> = y.iter().zip(&in_sample.point).map(|(a, f)| a - f).collect();
            let sigma =
                (resid.iter().map(|r| r * r).sum::<f64>() / resid.len().max(1) as f64).sqrt();
            let mut p = from_augurs(f80, f95);
            widen(&mut p.interval80, &p.point, Z80 * sigma);
            widen(&mut p.interval95, &p.point, Z95 * sigma);
            Ok(p)
        }
    }
}

/// Combines an interval's half-width with another independent one: sqrt(w^2 + extra^2).
fn widen(interval: &mut Option<(Vec<f64>, Vec<f64>)>, point: &[f64], extra: f64) {
    if let Some((lo, hi)) = interval {
        for h in 0..point.len() {
            let w = ((hi[h] - lo[h]) / 2.0).hypot(extra);
            lo[h] = point[h] - w;
            hi[h] = point[h] + w;
        }
    }
}

fn from_augurs(f80: augurs::Forecast, f95: augurs::Forecast) -> Prediction {
    let pair = |f: augurs::Forecast| f.intervals.map(|i| (i.lower, i.upper));
    Prediction {
        point: f80.point.clone(),
        interval80: pair(f80),
        interval95: pair(f95),
    }
}

/// METRICS.md's seed formula over the last `lookback` periods: Average * (1 + Growth)^h, with
/// Growth the mean of the period-over-period rates (a period after a zero has none). None when
/// no period has a rate: the growth is undefined, as analysis/forecast_seed.sql says with a
/// NULL (a growth of 0 would be a projection the formula does not make).
pub fn seed(y: &[f64], lookback: usize, horizon: usize) -> Option<Vec<f64>> {
    let w = &y[y.len().saturating_sub(lookback)..];
    let average = w.iter().sum::<f64>() / w.len() as f64;
    let rates: Vec<f64> = w
        .windows(2)
        .filter(|p| p[0] != 0.0)
        .map(|p| p[1] / p[0] - 1.0)
        .collect();
    if rates.is_empty() {
        return None;
    }
    let growth = rates.iter().sum::<f64>() / rates.len() as f64;
    Some(
        (1..=horizon)
            .map(|h| average * (1.0 + growth).powi(h as i32))
            .collect(),
    )
}

/// The seasons MSTL decomposes: the period's own, and for days (a weekly season of 7) the year
/// too once the history holds two of them (MSTL needs two cycles of each season).
pub fn mstl_seasons(season: usize, history: usize) -> Vec<usize> {
    const YEAR_OF_DAYS: usize = 365;
    if season == 7 && history > 2 * YEAR_OF_DAYS {
        vec![7, YEAR_OF_DAYS]
    } else {
        vec![season]
    }
}

/// The value one season before, repeated; intervals from the in-sample seasonal differences,
/// widening with the number of seasons ahead (sigma * sqrt(k)).
pub fn seasonal_naive(y: &[f64], m: usize, horizon: usize) -> Prediction {
    let n = y.len();
    let point: Vec<f64> = (1..=horizon).map(|h| y[n - m + (h - 1) % m]).collect();
    let diffs: Vec<f64> = (m..n).map(|t| y[t] - y[t - m]).collect();
    let sigma = if diffs.len() > 1 {
        (diffs.iter().map(|d| d * d).sum::<f64>() / (diffs.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    let band = |z: f64| -> (Vec<f64>, Vec<f64>) {
        let half: Vec<f64> = (1..=horizon)
            .map(|h| z * sigma * (((h - 1) / m + 1) as f64).sqrt())
            .collect();
        (
            point.iter().zip(&half).map(|(p, d)| p - d).collect(),
            point.iter().zip(&half).map(|(p, d)| p + d).collect(),
        )
    };
    Prediction {
        interval80: Some(band(Z80)),
        interval95: Some(band(Z95)),
        point,
    }
}

/// Mean absolute in-sample error of the seasonal naive method: MASE's scale.
pub fn seasonal_naive_scale(y: &[f64], m: usize) -> Option<f64> {
    let m = if y.len() > m { m } else { 1 };
    if y.len() <= m {
        return None;
    }
    let s = (m..y.len()).map(|t| (y[t] - y[t - m]).abs()).sum::<f64>() / (y.len() - m) as f64;
    (s > 0.0).then_some(s)
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Accuracy {
    pub origins: usize,
    pub forecasts: usize,
    pub mae: f64,
    pub rmse: f64,
    /// Percent; over the actuals that are not zero.
    pub mape: Option<f64>,
    /// 0..2 (as prophet).
    pub smape: f64,
    pub mase: Option<f64>,
    pub coverage80: Option<f64>,
    pub coverage95: Option<f64>,
}

/// Error metrics over pairs (forecast, actual), METRICS.md "Sales forecast"; `scale` is the
/// MASE denominator of each pair's origin.
pub fn accuracy(pairs: &[(f64, f64, Option<f64>)]) -> Accuracy {
    let n = pairs.len() as f64;
    let mae = pairs.iter().map(|(f, y, _)| (f - y).abs()).sum::<f64>() / n;
    let rmse = (pairs.iter().map(|(f, y, _)| (f - y).powi(2)).sum::<f64>() / n).sqrt();
    let nonzero: Vec<_> = pairs.iter().filter(|(_, y, _)| *y != 0.0).collect();
    let mape = (!nonzero.is_empty()).then(|| {
        100.0
            * nonzero
                .iter()
                .map(|(f, y, _)| ((f - y) / y).abs())
                .sum::<f64>()
            / nonzero.len() as f64
    });
    let smape = pairs
        .iter()
        .map(|(f, y, _)| {
            if f.abs() + y.abs() == 0.0 {
                0.0
            } else {
                2.0 * (f - y).abs() / (f.abs() + y.abs())
            }
        })
        .sum::<f64>()
        / n;
    let mase = pairs
        .iter()
        .map(|(f, y, s)| s.map(|s| (f - y).abs() / s))
        .collect::<Option<Vec<f64>>>()
        .map(|v| v.iter().sum::<f64>() / n);
    Accuracy {
        origins: 0,
        forecasts: pairs.len(),
        mae,
        rmse,
        mape,
        smape,
        mase,
        coverage80: None,
        coverage95: None,
    }
}

/// Rolling-origin backtest: for each of the last `origins` origins whose whole horizon is
/// observed, fit on the history before it and forecast the horizon.
pub fn backtest(
    method: Method,
    y: &[f64],
    season: usize,
    lookback: usize,
    horizon: usize,
    origins: usize,
) -> Result<Accuracy, ForecastError> {
    let n = y.len();
    let need = method.min_history(season, lookback);
    if n < horizon + need + origins.saturating_sub(1) {
        return Err(ForecastError::TooShort {
            method: method.name(),
            have: n,
            need: horizon + need + origins.saturating_sub(1),
        });
    }
    let mut pairs = Vec::new();
    let (mut in80, mut in95, mut with_intervals) = (0usize, 0usize, 0usize);
    for end in (n - horizon - (origins - 1))..=(n - horizon) {
        let train = &y[..end];
        let p = predict(method, train, season, lookback, horizon)?;
        let scale = seasonal_naive_scale(train, season);
        for h in 0..horizon {
            let actual = y[end + h];
            pairs.push((p.point[h], actual, scale));
            if let (Some(i80), Some(i95)) = (&p.interval80, &p.interval95) {
                with_intervals += 1;
                in80 += usize::from(i80.0[h] <= actual && actual <= i80.1[h]);
                in95 += usize::from(i95.0[h] <= actual && actual <= i95.1[h]);
            }
        }
    }
    let mut acc = accuracy(&pairs);
    acc.origins = origins;
    if with_intervals > 0 {
        acc.coverage80 = Some(in80 as f64 / with_intervals as f64);
        acc.coverage95 = Some(in95 as f64 / with_intervals as f64);
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_equal_hand_computed_values() {
        // forecasts 10, 20, 30 for actuals 12, 20, 24; scale 2 for all.
        let a = accuracy(&[
            (10.0, 12.0, Some(2.0)),
            (20.0, 20.0, Some(2.0)),
            (30.0, 24.0, Some(2.0)),
        ]);
        assert!((a.mae - 8.0 / 3.0).abs() < 1e-12);
        assert!((a.rmse - (40.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // MAPE: (2/12 + 0 + 6/24) / 3 * 100
        assert!((a.mape.unwrap() - 100.0 * (2.0 / 12.0 + 0.25) / 3.0).abs() < 1e-9);
        // sMAPE: (2*2/22 + 0 + 2*6/54) / 3
        assert!((a.smape - (4.0 / 22.0 + 12.0 / 54.0) / 3.0).abs() < 1e-12);
        assert!((a.mase.unwrap() - (8.0 / 3.0) / 2.0).abs() < 1e-12);
        // A zero actual leaves MAPE to the others; no scale, no MASE.
        let b = accuracy(&[(1.0, 0.0, None), (2.0, 4.0, None)]);
        assert_eq!(b.mape, Some(50.0));
        assert_eq!(b.mase, None);
    }

    #[test]
    fn seed_and_seasonal_naive_by_hand() {
        // METRICS.md's seed formula on 180, 290, 10 (tests/data/retention_tiny/EXPECTED.md).
        let s = seed(&[150.0, 180.0, 290.0, 10.0], 3, 2).unwrap();
        // No period with a rate: no growth, no projection (forecast_seed.sql's NULL), where a
        // growth of 0 used to project the average flat.
        assert_eq!(seed(&[0.0, 0.0, 0.0, 40.0], 3, 2), None);
        assert_eq!(seed(&[5.0, 0.0, 0.0, 40.0], 3, 2), None);
        assert!(seed(&[0.0, 10.0, 0.0, 40.0], 3, 2).is_some());
        assert!(predict(Method::Seed, &[0.0, 0.0, 0.0, 40.0], 12, 3, 2).is_err());
        assert!(
            (s[0] - 131.6475).abs() < 1e-3 && (s[1] - 108.3184).abs() < 1e-3,
            "{s:?}"
        );
        let p = seasonal_naive(&[1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 4.0, 5.0], 4, 6);
        assert_eq!(p.point, [2.0, 3.0, 4.0, 5.0, 2.0, 3.0]);
        // Every seasonal difference is 1: sigma = sqrt(4 / 3); the second season is wider.
        let (lo, hi) = p.interval95.unwrap();
        let sigma = (4.0f64 / 3.0).sqrt();
        assert!((hi[0] - lo[0] - 2.0 * Z95 * sigma).abs() < 1e-9);
        assert!((hi[4] - lo[4] - 2.0 * Z95 * sigma * 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(
            seasonal_naive_scale(&[1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 4.0, 5.0], 4),
            Some(1.0)
        );
    }

    /// Four years of monthly revenue: a linear trend, an additive yearly season and independent
    /// noise (uniform, sd about 17, from a fixed-seed generator).
    fn series() -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        (0..48)
            .map(|t| {
                let season = [
                    -100.0, -200.0, -50.0, 0.0, 0.0, 50.0, 100.0, 50.0, 0.0, 50.0, 300.0, 600.0,
                ][t % 12];
                1000.0 + 20.0 * t as f64 + season + rng.random_range(-30.0..30.0)
            })
            .collect()
    }

    #[test]
    fn a_series_with_known_trend_and_season_is_forecast_within_its_intervals() {
        let y = series();
        let (train, test) = y.split_at(42);
        let p = predict(Method::MstlEts, train, 12, 12, 6).unwrap();
        let (lo, hi) = p.interval95.clone().unwrap();
        for h in 0..6 {
            assert!(
                lo[h] <= test[h] && test[h] <= hi[h],
                "h={h}: {} not in [{}, {}]",
                test[h],
                lo[h],
                hi[h]
            );
            assert!(
                (p.point[h] - test[h]).abs() / test[h] < 0.1,
                "h={h}: {} vs {}",
                p.point[h],
                test[h]
            );
        }
        // The seasonal model beats the non-seasonal ones in the backtest.
        let mstl = backtest(Method::MstlEts, &y, 12, 12, 6, 6).unwrap();
        let seed = backtest(Method::Seed, &y, 12, 12, 6, 6).unwrap();
        let ets = backtest(Method::Ets, &y, 12, 12, 6, 6).unwrap();
        assert!(
            mstl.mase.unwrap() < seed.mase.unwrap() && mstl.mase.unwrap() < ets.mase.unwrap(),
            "{mstl:?} {seed:?} {ets:?}"
        );
        assert!(mstl.coverage95.unwrap() >= 0.8, "{mstl:?}");
    }

    /// Daily sales with a weekly and a yearly cycle: with two years of days MSTL takes both
    /// seasons, and its forecast of the next month follows the yearly swing that a weekly season
    /// alone cannot.
    #[test]
    fn a_daily_series_gets_a_weekly_and_a_yearly_season() {
        assert_eq!(mstl_seasons(7, 700), vec![7]);
        assert_eq!(mstl_seasons(7, 731), vec![7, 365]);
        assert_eq!(mstl_seasons(52, 1000), vec![52]);
        let weekly = [0.0, 5.0, 8.0, 6.0, 4.0, 20.0, 15.0];
        let day = |t: usize| {
            200.0
                + 0.05 * t as f64
                + weekly[t % 7]
                + 40.0 * (2.0 * std::f64::consts::PI * t as f64 / 365.0).sin()
        };
        let y: Vec<f64> = (0..760).map(day).collect();
        let (train, test) = y.split_at(730);
        let both = predict(Method::MstlEts, train, 7, 7, 30).unwrap();
        let mae = |p: &Prediction| {
            p.point
                .iter()
                .zip(test)
                .map(|(f, a)| (f - a).abs())
                .sum::<f64>()
                / 30.0
        };
        assert!(mae(&both) < 3.0, "weekly + yearly: MAE {}", mae(&both));
        // The same history cut to under two years: the weekly season only, and the yearly
        // swing is missed.
        let short = predict(Method::MstlEts, &train[30..], 7, 7, 30).unwrap();
        assert!(
            mae(&short) > mae(&both),
            "{} vs {}",
            mae(&short),
            mae(&both)
        );
    }

    #[test]
    fn too_short_a_history_says_how_much_is_needed() {
        let e = predict(Method::MstlEts, &[1.0; 20], 12, 12, 6).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mstl_ets: 20 periods of history, it needs at least 25"
        );
        let e = backtest(Method::SeasonalNaive, &[1.0; 15], 12, 12, 6, 6).unwrap_err();
        assert!(e.to_string().contains("needs at least 24"), "{e}");
    }
}
