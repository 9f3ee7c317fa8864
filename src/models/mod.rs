//! Models fitted on what the queries compute: customer lifetime value, clustering, forecasts.
//! Pure numeric code; the commands fetch the inputs through DataFusion and write the outputs.

pub mod cluster;
pub mod clv;
pub mod forecast;
pub mod special;
