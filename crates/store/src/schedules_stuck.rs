//! A configuration stuck on a run that is already claimed: moving it on.
//!
//! A claim fails for one of two reasons: another node advanced the configuration (it no
//! longer fires at that time: nothing to do), or the run row exists while the
//! configuration still names that time as its next fire. The second happens when a
//! schedule change or an enable on a node whose clock is behind set `next_fire_ms` back
//! to a time a run was already claimed for; without this, the configuration would stay
//! due for a run that can never be claimed again.

use crate::schedules::RunClaim;
use crate::{Result, Store};

impl Store {
    /// Moves a configuration whose next fire time `claim.fire_ms` is already claimed on
    /// to `claim.next_fire_ms`. False when it no longer fires at `claim.fire_ms` or that
    /// run was never claimed (then nothing changes).
    pub async fn skip_claimed_run(&self, claim: &RunClaim) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE deploy_configs SET next_fire_ms = $3, updated_ms = $4 \
             WHERE id = $1 AND next_fire_ms = $2 \
             AND EXISTS (SELECT 1 FROM config_runs WHERE config_id = $1 AND fire_ms = $2)",
        )
        .bind(claim.config_id.0)
        .bind(claim.fire_ms)
        .bind(claim.next_fire_ms)
        .bind(claim.now_ms)
        .execute(self.writer())
        .await?;
        Ok(moved.rows_affected() == 1)
    }
}
