//! `drover token`: your own API tokens: list them, revoke one.

use super::Ctx;
use super::output::out;
use super::output::{path_part, table, time};
use drover_api::Done;
use drover_api::session::TokenInfo;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// List your tokens that have not expired (the one in use marked *).
    List,
    /// Revoke one of your tokens by its id (from `drover token list`).
    Revoke { id: String },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    match cmd {
        Cmd::List => {
            let tokens: Vec<TokenInfo> = ctx.client.get("/me/tokens").await?;
            ctx.print(&tokens, |tokens| {
                table(
                    &["ID", "CREATED", "EXPIRES", "IN USE"],
                    tokens.iter().map(|t| {
                        vec![
                            t.id.clone(),
                            time(Some(t.created_ms)),
                            time(Some(t.expires_ms)),
                            if t.current { "*" } else { "" }.to_string(),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Revoke { id } => {
            let d: Done = ctx.client.delete(&format!("/me/tokens/{}", path_part(&id))).await?;
            ctx.print(&d, |d| out!("{}", d.message))?;
        }
    }
    Ok(0)
}
