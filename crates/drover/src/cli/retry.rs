//! `drover retry-queue`: offline targets waiting for their next attempt.

use super::Ctx;
use super::output::out;
use super::output::{table, time};
use drover_api::retry::Retry;

pub async fn run(ctx: &Ctx) -> anyhow::Result<u8> {
    let queue: Vec<Retry> = ctx.client.get("/retry-queue").await?;
    ctx.print(&queue, |q| print_queue(q))?;
    Ok(0)
}

/// One line a target, next attempt first.
fn print_queue(entries: &[Retry]) {
    if entries.is_empty() {
        out!("the retry queue is empty");
        return;
    }
    table(
        &["deployment", "target", "asset", "package", "attempts", "next attempt", "retries until"],
        entries.iter().map(|e| {
            let t = &e.target;
            vec![
                t.deployment_id.to_string(),
                t.id.to_string(),
                t.asset_name.clone(),
                format!("{} {}", e.package_name, e.package_version),
                t.attempts.to_string(),
                time(t.next_attempt_ms),
                time(Some(e.retry_until_ms)),
            ]
        }),
    );
}
