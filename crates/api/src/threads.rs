//! Deployment threads of a node (`/threads`): the limit, running and queued targets.

use serde::{Deserialize, Serialize};

/// `GET /threads`, and the answer of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadsInfo {
    pub threads: usize,
    pub running: usize,
    pub queued: usize,
}

/// `PUT /threads` (admin): the new limit, live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetThreads {
    pub threads: usize,
}
