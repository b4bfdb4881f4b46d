//! `drover asset`: the computers of the inventory.

use super::Ctx;
use super::output::out;
use super::output::{self, path_part};
use drover_api::Done;
use drover_api::Empty;
use drover_api::assets::AddAsset;
use drover_domain::asset::{Asset, NewAsset};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add an asset.
    Add {
        name: String,
        /// Host name or IP address drover reaches it at.
        #[arg(long)]
        address: String,
        /// SSH port.
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// MAC address (for Wake-on-LAN); repeat for more.
        #[arg(long = "mac")]
        macs: Vec<String>,
        /// Credential to map to the asset.
        #[arg(long)]
        credential: Option<String>,
    },
    /// Every asset with its pinned host key.
    List,
    /// One asset, as JSON.
    Show {
        /// Asset name or id.
        asset: String,
    },
    /// Remove an asset.
    Rm {
        /// Asset name or id.
        asset: String,
    },
    /// Accept a changed SSH host key (after a reinstall): the next connection pins it.
    AcceptKey {
        /// Asset name or id.
        asset: String,
    },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::Add { name, address, port, macs, credential } => {
            let body = AddAsset { asset: NewAsset { name, address, ssh_port: port, macs }, credential };
            let a: Asset = c.post("/assets", &body).await?;
            ctx.print(&a, |a| out!("asset {} '{}' added", a.id, a.name))?;
        }
        Cmd::List => {
            let list: Vec<Asset> = c.get("/assets").await?;
            ctx.print(&list, |list| {
                output::table(&["ID", "NAME", "ADDRESS", "OS", "ARCH", "HOST KEY"], list.iter().map(row))
            })?;
        }
        Cmd::Show { asset } => {
            let a: Asset = c.get(&format!("/assets/{}", path_part(&asset))).await?;
            output::print_json(&a)?;
        }
        Cmd::Rm { asset } => {
            let done: Done = c.delete(&format!("/assets/{}", path_part(&asset))).await?;
            ctx.print(&done, |_| out!("asset {asset} removed"))?;
        }
        Cmd::AcceptKey { asset } => {
            let done: Done = c.post(&format!("/assets/{}/accept-host-key", path_part(&asset)), &Empty {}).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
    }
    Ok(0)
}

fn row(a: &Asset) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.name.clone(),
        format!("{}:{}", a.address, a.ssh_port),
        a.os.clone().unwrap_or_default(),
        a.arch.clone().unwrap_or_default(),
        a.host_key_fingerprint.clone().unwrap_or_else(|| "(not pinned yet)".into()),
    ]
}
