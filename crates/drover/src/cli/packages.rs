//! `drover package`: import, list, show, export and remove packages.

use super::Ctx;
use super::output::{self, path_part};
use anyhow::Context;
use drover_api::Done;
use drover_domain::package::Package;
use reqwest::Method;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Import a bundle: a folder with package.toml and files/, or a .tar.gz of one.
    Import { path: PathBuf },
    /// Every package: name, version, steps, files and run mode.
    List,
    /// One package, as JSON.
    Show {
        /// Package name or id.
        package: String,
    },
    /// Write the package with its files as one .tar.gz bundle.
    Export {
        /// Package name or id.
        package: String,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Remove a package.
    Rm {
        /// Package name or id.
        package: String,
    },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::Import { path } => {
            let bytes = if path.is_dir() {
                tar_folder(&path)?
            } else {
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
            };
            let p: Package = c.json(c.request(Method::POST, "/packages").body(bytes)).await?;
            ctx.print(&p, |p| {
                println!(
                    "package {} '{}' version {} imported ({} step(s), {} file(s))",
                    p.id,
                    p.def.name,
                    p.def.version,
                    p.def.steps.len(),
                    p.files.len()
                )
            })?;
        }
        Cmd::List => {
            let list: Vec<Package> = c.get("/packages").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "VERSION", "STEPS", "FILES", "RUN MODE"],
                    list.iter().map(|p| {
                        vec![
                            p.id.to_string(),
                            p.def.name.clone(),
                            p.def.version.clone(),
                            p.def.steps.len().to_string(),
                            p.files.len().to_string(),
                            p.def.run_mode.to_string(),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Show { package } => {
            let p: Package = c.get(&format!("/packages/{}", path_part(&package))).await?;
            output::print_json(&p)?;
        }
        Cmd::Export { package, output: out } => {
            let resp = c.send(c.request(Method::GET, &format!("/packages/{}/bundle", path_part(&package)))).await?;
            let bytes = resp.bytes().await?;
            std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), bytes.len());
        }
        Cmd::Rm { package } => {
            let done: Done = c.delete(&format!("/packages/{}", path_part(&package))).await?;
            ctx.print(&done, |_| println!("package {package} removed"))?;
        }
    }
    Ok(0)
}

/// A package folder (package.toml + files/) as a .tar.gz bundle.
fn tar_folder(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let toml = dir.join("package.toml");
    anyhow::ensure!(toml.is_file(), "{} has no package.toml", dir.display());
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(true);
    tar.append_path_with_name(&toml, "package.toml").context("adding package.toml")?;
    let files = dir.join("files");
    if files.is_dir() {
        tar.append_dir_all("files", &files).context("adding files/")?;
    }
    Ok(tar.into_inner()?.finish()?)
}
