//! The retry queue (`GET /retry-queue`): offline targets waiting for their next attempt.

use drover_domain::deployment::Target;
use serde::{Deserialize, Serialize};

/// A target in the retry queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    pub target: Target,
    pub package_name: String,
    pub package_version: String,
    pub retry_interval_secs: u64,
    /// When retries end and the target becomes offline (epoch ms).
    pub retry_until_ms: i64,
}
