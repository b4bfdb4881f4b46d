//! `drover share-location`: IP ranges whose targets fetch package files from a nearer
//! share (admin).

use super::Ctx;
use super::output;
use super::output::out;
use drover_api::Done;
use drover_api::share_locations::{AddShareLocation, ShareLocations};
use drover_domain::share_location::ShareLocation;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Every share location: its range and share URL.
    List,
    /// Targets in RANGE fetch package files from URL (another drover node's share, e.g.
    /// https://node2:8080/share/v1, or a web server holding the files at URL/files/<sha256>);
    /// every file is still checked by SHA-256 on the target.
    Add {
        /// A CIDR (10.1.0.0/16) or first-last range.
        #[arg(long)]
        range: String,
        /// The share's base URL.
        #[arg(long)]
        url: String,
        /// The SHA-256 of an https:// share's TLS certificate (another drover node's,
        /// which `drover serve` prints at start): targets then trust only that certificate.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Remove a share location: its targets use the server's share again.
    Remove {
        /// Its id (see `share-location list`).
        id: i64,
    },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::List => {
            let list: ShareLocations = c.get("/share-locations").await?;
            ctx.print(&list, |l| {
                output::table(
                    &["ID", "RANGE", "URL"],
                    l.locations.iter().map(|s| vec![s.id.to_string(), s.range.to_string(), s.url.clone()]),
                );
            })?;
        }
        Cmd::Add { range, url, fingerprint } => {
            let l: ShareLocation = c.post("/share-locations", &AddShareLocation { range, url, fingerprint }).await?;
            ctx.print(&l, |l| {
                out!("share location {}: targets in {} fetch package files from {}", l.id, l.range, l.url)
            })?;
        }
        Cmd::Remove { id } => {
            let done: Done = c.delete(&format!("/share-locations/{id}")).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
    }
    Ok(0)
}
