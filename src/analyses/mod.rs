//! The application layer: each analysis from the engine's views through a model to the tables
//! a command prints, `crm run` writes and the report draws. An [`Analyses`] computes each of
//! them at most once, so that a nightly run and its report share one result: a table read
//! twice is queried once, k-means, the forecasts and the CLV model are fitted once.
//!
//! May import the stages below it (engine, models, report, output, ingest for a load's
//! summary); never `cmd`, which sits on top as thin adapters.

pub mod alerts;
pub mod clusters;
pub mod clv;
pub mod forecast;
pub mod migration;
pub mod quality;
pub mod targets;

use std::collections::HashMap;

use serde_json::Value;

use crate::config::Config;
use crate::engine::{Engine, Rows};
use crate::error::{Error, Result};

/// The tables of `crm interactions`, each an output query (`queries/outputs/<name>.sql`).
pub const INTERACTIONS: &[&str] = &[
    "channel_mix",
    "interactions_per_customer",
    "campaign_conversion",
];

/// The tables of `crm service`.
pub const SERVICE: &[&str] = &[
    "service_summary",
    "service_tickets",
    "satisfaction",
    "satisfaction_by_segment",
];

/// The tables of `crm affinity`.
pub const AFFINITY: &[&str] = &[
    "category_affinity",
    "next_category",
    "region_category_growth",
];

/// The results of one engine's analyses, each computed on first use and kept.
pub struct Analyses<'a> {
    pub engine: &'a Engine,
    pub config: &'a Config,
    tables: HashMap<String, Rows>,
    clusters: Option<Result<clusters::Fit>>,
    forecast: Option<Result<forecast::Report>>,
    clv: Option<Result<clv::Scored>>,
    migration: Option<Result<migration::Migration>>,
}

impl<'a> Analyses<'a> {
    pub fn new(engine: &'a Engine, config: &'a Config) -> Analyses<'a> {
        Analyses {
            engine,
            config,
            tables: HashMap::new(),
            clusters: None,
            forecast: None,
            clv: None,
            migration: None,
        }
    }

    /// The rows of `queries/outputs/<name>.sql`, queried once.
    pub async fn table(&mut self, name: &str) -> Result<&Rows> {
        if !self.tables.contains_key(name) {
            let rows = self.engine.read(name, vec![]).await?;
            self.tables.insert(name.to_string(), rows);
        }
        Ok(&self.tables[name])
    }

    /// The rows of an output as JSON objects (column name -> value), for the report.
    pub async fn json(&mut self, name: &str) -> Result<Vec<Value>> {
        let rows = self.table(name).await?;
        Ok(crate::output::to_json(&rows.batches, &rows.schema)?
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// k-means on the RFM inputs with the config's k and seed, fitted once.
    pub async fn clusters(&mut self) -> std::result::Result<&clusters::Fit, &Error> {
        if self.clusters.is_none() {
            let (k, seed) = (self.config.cluster.k, self.config.cluster.seed);
            self.clusters = Some(clusters::fit(self.engine, k, seed).await);
        }
        self.clusters.as_ref().expect("set above").as_ref()
    }

    /// Every forecast model with its backtest, fitted once.
    pub async fn forecast(&mut self) -> std::result::Result<&forecast::Report, &Error> {
        if self.forecast.is_none() {
            let r = forecast::report(
                self.engine,
                self.config,
                &crate::models::forecast::Method::ALL,
            )
            .await;
            self.forecast = Some(r);
        }
        self.forecast.as_ref().expect("set above").as_ref()
    }

    /// BG/NBD + Gamma-Gamma with the config's horizon and discount, fitted and scored once.
    pub async fn clv(&mut self) -> std::result::Result<&clv::Scored, &Error> {
        if self.clv.is_none() {
            self.clv = Some(clv::score(self.engine, self.config).await);
        }
        self.clv.as_ref().expect("set above").as_ref()
    }

    /// RFM segment migration since one `retention.period` before as_of, computed once.
    pub async fn migration(&mut self) -> std::result::Result<&migration::Migration, &Error> {
        if self.migration.is_none() {
            self.migration = Some(migration::migration(self.config, self.engine).await);
        }
        self.migration.as_ref().expect("set above").as_ref()
    }
}
