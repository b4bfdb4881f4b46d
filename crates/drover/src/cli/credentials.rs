//! `drover credential`: scanning credentials and where they apply.

use super::Ctx;
use super::output::out;
use super::output::{self, read_stdin_line};
use anyhow::Context;
use drover_api::Done;
use drover_api::assets::AssetRef;
use drover_api::credentials::Mapping;
use drover_domain::credential::{Credential, CredentialSecret, NewCredential, SudoMode};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add a credential; the secret is read from standard input or a key file.
    Add {
        name: String,
        #[arg(long)]
        user: String,
        /// Read the password from standard input.
        #[arg(long, conflicts_with = "key_file")]
        password_stdin: bool,
        /// An OpenSSH private key file.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Read the key's passphrase from standard input.
        #[arg(long, requires = "key_file")]
        passphrase_stdin: bool,
        /// How the user becomes root: none, no-password (sudo -n) or password (sudo -S).
        #[arg(long, default_value = "none", value_parser = parse_sudo)]
        sudo: SudoMode,
        /// Map the credential to every asset.
        #[arg(long)]
        global: bool,
    },
    /// Every credential (never a secret).
    List,
    /// Map a credential to one asset (--asset) or to every asset (--global).
    #[command(group(clap::ArgGroup::new("where").required(true).args(["asset", "global"])))]
    Map {
        /// Credential id.
        credential: i64,
        /// Asset name or id.
        #[arg(long, conflicts_with = "global")]
        asset: Option<String>,
        /// Map it to every asset.
        #[arg(long)]
        global: bool,
        /// Lower goes first among the credentials tried.
        #[arg(long, default_value_t = 0)]
        priority: i64,
    },
    /// Remove a credential with its mappings.
    Rm {
        /// Credential id.
        id: i64,
    },
}

fn parse_sudo(s: &str) -> Result<SudoMode, String> {
    SudoMode::parse(&s.replace('-', "_"))
        .ok_or_else(|| format!("'{s}' is not a sudo mode: choose none, no-password or password"))
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::Add { name, user, password_stdin, key_file, passphrase_stdin, sudo, global } => {
            let mut secret = CredentialSecret::default();
            match (&key_file, password_stdin) {
                (Some(f), _) => {
                    let key =
                        std::fs::read_to_string(f).with_context(|| format!("cannot read key file {}", f.display()))?;
                    secret.private_key = Some(key);
                    if passphrase_stdin {
                        secret.passphrase = Some(read_stdin_line("passphrase")?);
                    }
                }
                (None, true) => secret.password = Some(read_stdin_line("password")?),
                (None, false) => secret.password = Some(rpassword::prompt_password(format!("Password of {user}: "))?),
            }
            let new = NewCredential { name, username: user, sudo, secret };
            let cred: Credential = c.post("/credentials", &new).await?;
            if global {
                let _: Done = c.post(&format!("/credentials/{}/mappings", cred.id), &Mapping::global(0)).await?;
            }
            ctx.print(&cred, |cred| {
                let mapped = if global { ", mapped to every asset" } else { "" };
                out!("credential {} '{}' added{mapped}", cred.id, cred.name);
            })?;
        }
        Cmd::List => {
            let list: Vec<Credential> = c.get("/credentials").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "USER", "KIND", "SUDO"],
                    list.iter().map(|c| {
                        vec![
                            c.id.to_string(),
                            c.name.clone(),
                            c.username.clone(),
                            c.kind.as_str().into(),
                            c.sudo.as_str().into(),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Map { credential, asset, global, priority } => {
            let mapping = match (asset, global) {
                (Some(a), false) => Mapping::to_asset(AssetRef::parse(&a), priority),
                (None, true) => Mapping::global(priority),
                // clap requires exactly one of them
                _ => anyhow::bail!("give either --asset NAME or --global"),
            };
            let done: Done = c.post(&format!("/credentials/{credential}/mappings"), &mapping).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
        Cmd::Rm { id } => {
            let done: Done = c.delete(&format!("/credentials/{id}")).await?;
            ctx.print(&done, |_| out!("credential {id} removed"))?;
        }
    }
    Ok(0)
}
