//! `drover asset`: the computers of the inventory.

use super::Ctx;
use super::output::out;
use super::output::{self, path_part};
use drover_api::Done;
use drover_api::assets::AddAsset;
use drover_api::host_keys::{TrustAnswer, TrustKey};
use drover_domain::asset::{Asset, NewAsset};
use drover_domain::inventory::{Interface, Software, SoftwareChange};

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
    /// One asset with every fact scans learnt, as JSON.
    Show {
        /// Asset name or id.
        asset: String,
    },
    /// The asset's installed software (as the last scan saw it).
    Software {
        /// Asset name or id.
        asset: String,
        /// Only packages whose name contains this.
        #[arg(long)]
        name: Option<String>,
    },
    /// The asset's software changes between scans, newest first.
    History {
        /// Asset name or id.
        asset: String,
    },
    /// The asset's network interfaces (as the last scan saw them).
    Interfaces {
        /// Asset name or id.
        asset: String,
    },
    /// Remove an asset.
    Rm {
        /// Asset name or id.
        asset: String,
    },
    /// Pin the SSH host key the asset's address presents now (admin). Without
    /// --fingerprint it only shows the fingerprint; compare it with the machine's own
    /// (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and run again with it.
    TrustKey {
        /// Asset name or id.
        asset: String,
        /// The SHA256:… fingerprint the host must present.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Replace the pinned host key with the one presented now, after a reinstall (admin);
    /// with --fingerprint, only if the host presents that key.
    AcceptKey {
        /// Asset name or id.
        asset: String,
        /// The SHA256:… fingerprint the host must present.
        #[arg(long)]
        fingerprint: Option<String>,
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
        Cmd::Software { asset, name } => {
            let q = drover_api::scan::SoftwareQuery { name };
            let list: Vec<Software> = c.get_with(&format!("/assets/{}/software", path_part(&asset)), &q).await?;
            ctx.print(&list, |l| {
                output::table(&["PACKAGE", "VERSION"], l.iter().map(|s| vec![s.name.clone(), s.version.clone()]))
            })?;
        }
        Cmd::History { asset } => {
            let list: Vec<SoftwareChange> = c.get(&format!("/assets/{}/software-history", path_part(&asset))).await?;
            ctx.print(&list, |l| {
                output::table(
                    &["WHEN", "PACKAGE", "CHANGE", "OLD", "NEW"],
                    l.iter().map(|c| {
                        vec![
                            output::time(Some(c.at_ms)),
                            c.name.clone(),
                            c.kind.as_str().to_string(),
                            output::opt(&c.old_version),
                            output::opt(&c.new_version),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Interfaces { asset } => {
            let list: Vec<Interface> = c.get(&format!("/assets/{}/interfaces", path_part(&asset))).await?;
            ctx.print(&list, |l| {
                output::table(
                    &["NAME", "MAC", "ADDRESSES"],
                    l.iter().map(|i| vec![i.name.clone(), output::opt(&i.mac), i.addresses.join(" ")]),
                )
            })?;
        }
        Cmd::Rm { asset } => {
            let done: Done = c.delete(&format!("/assets/{}", path_part(&asset))).await?;
            ctx.print(&done, |_| out!("asset {asset} removed"))?;
        }
        Cmd::TrustKey { asset, fingerprint } => {
            let body = TrustKey { fingerprint };
            let a: TrustAnswer = c.post(&format!("/assets/{}/trust-host-key", path_part(&asset)), &body).await?;
            ctx.print(&a, |a| out!("{}", a.message))?;
        }
        Cmd::AcceptKey { asset, fingerprint } => {
            let body = TrustKey { fingerprint };
            let a: TrustAnswer = c.post(&format!("/assets/{}/accept-host-key", path_part(&asset)), &body).await?;
            ctx.print(&a, |a| out!("{}", a.message))?;
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
