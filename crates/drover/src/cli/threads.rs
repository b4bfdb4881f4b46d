//! `drover threads`: this node's deployment threads, and changing the limit live.

use super::Ctx;
use super::output::out;
use drover_api::threads::{SetThreads, ThreadsInfo};

#[derive(clap::Args, Debug)]
pub struct Threads {
    /// The new limit (admin); without it, show the threads.
    threads: Option<usize>,
}

pub async fn run(ctx: &Ctx, a: Threads) -> anyhow::Result<u8> {
    let info: ThreadsInfo = match a.threads {
        Some(n) => ctx.client.put("/threads", &SetThreads { threads: n }).await?,
        None => ctx.client.get("/threads").await?,
    };
    ctx.print(&info, |i| out!("deployment threads {}: {} running, {} queued", i.threads, i.running, i.queued))?;
    Ok(0)
}
