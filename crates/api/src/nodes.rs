//! The nodes of the database (`/nodes`): each one's lease, whether it holds, and which
//! node answered.

use serde::{Deserialize, Serialize};

/// One node, as its last lease renewal left it (`GET /nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    /// When it last renewed its lease (epoch ms).
    pub heartbeat_ms: i64,
    /// Until when it holds its targets (epoch ms); after that, other nodes take them over.
    pub lease_until_ms: i64,
    /// The IP ranges whose assets it drives (`--serve-ranges`), comma-separated; empty:
    /// every address.
    #[serde(default)]
    pub serve_ranges: String,
    /// Where deployers reach it (its `--public-url`), if it has one: the jobs of the other
    /// nodes name it, for their deployers to report to when their own node is gone.
    #[serde(default)]
    pub url: Option<String>,
    /// Its lease still runs.
    pub alive: bool,
    /// It is the node that answered this request.
    pub this_node: bool,
}
