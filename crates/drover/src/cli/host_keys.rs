//! `drover host-key`: pinned SSH host keys and trusted host certificate authorities.

use super::Ctx;
use super::output;
use super::output::out;
use anyhow::Context;
use drover_api::Done;
use drover_api::host_keys::{AddAuthority, HostKeys, ImportAnswer, ImportKnownHosts};
use drover_domain::host_key::HostAuthority;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Every pinned key (address, port, fingerprint, who pinned it) and trusted CA.
    List,
    /// Pin the keys of an OpenSSH known_hosts file (e.g. from `ssh-keyscan HOST`, checked);
    /// its @cert-authority lines are trusted too. Hashed host names are skipped.
    Import {
        /// The known_hosts file ('-': standard input).
        file: PathBuf,
    },
    /// Trust an SSH certificate authority's host certificates for some hosts.
    AddCa {
        /// The CA's public key line: 'ssh-ed25519 AAAA… comment'.
        key: String,
        /// Hosts it may vouch for: '*.corp.example,10.0.0.0/8'.
        #[arg(long)]
        hosts: String,
    },
    /// Stop trusting a certificate authority.
    RemoveCa {
        /// Its id (see `host-key list`).
        id: i64,
    },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::List => {
            let list: HostKeys = c.get("/host-keys").await?;
            ctx.print(&list, |l| {
                output::table(
                    &["ADDRESS", "FINGERPRINT", "PINNED BY"],
                    l.keys.iter().map(|k| {
                        let by = match &k.pinned_by {
                            Some(u) => format!("{} ({})", k.source.as_str(), u),
                            None => k.source.as_str().to_string(),
                        };
                        vec![format!("{}:{}", k.address, k.port), k.fingerprint.clone(), by]
                    }),
                );
                if !l.authorities.is_empty() {
                    out!();
                    output::table(
                        &["CA", "FINGERPRINT", "HOSTS"],
                        l.authorities.iter().map(|a| vec![a.id.to_string(), a.fingerprint.clone(), a.hosts.clone()]),
                    );
                }
            })?;
        }
        Cmd::Import { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?
            };
            let a: ImportAnswer = c.post("/host-keys/import", &ImportKnownHosts { known_hosts: text }).await?;
            ctx.print(&a, |a| {
                for k in &a.pinned {
                    out!("pinned {}:{} {}", k.address, k.port, k.fingerprint);
                }
                for ca in &a.authorities {
                    out!("trusted certificate authority {} for {}", ca.fingerprint, ca.hosts);
                }
                for s in &a.skipped {
                    out!("skipped {s}");
                }
            })?;
        }
        Cmd::AddCa { key, hosts } => {
            let ca: HostAuthority = c.post("/host-keys/authorities", &AddAuthority { key, hosts }).await?;
            ctx.print(&ca, |ca| out!("certificate authority {} ({}) trusted for {}", ca.id, ca.fingerprint, ca.hosts))?;
        }
        Cmd::RemoveCa { id } => {
            let done: Done = c.delete(&format!("/host-keys/authorities/{id}")).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
    }
    Ok(0)
}
