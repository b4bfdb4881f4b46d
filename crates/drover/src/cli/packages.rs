//! `drover package`: import, list, show, export and remove packages.

use super::Ctx;
use super::output::out;
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
                out!(
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
            out!("wrote {} ({} bytes)", out.display(), bytes.len());
        }
        Cmd::Rm { package } => {
            let done: Done = c.delete(&format!("/packages/{}", path_part(&package))).await?;
            ctx.print(&done, |_| out!("package {package} removed"))?;
        }
    }
    Ok(0)
}

/// A package folder (package.toml + files/) as a .tar.gz bundle. Symbolic links are
/// refused, naming the file: a link could carry a file from outside the folder (an SSH
/// key) into the package, where every viewer can export it.
fn tar_folder(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let toml = dir.join("package.toml");
    let meta = std::fs::symlink_metadata(&toml).with_context(|| format!("{} has no package.toml", dir.display()))?;
    refuse_link(&toml, &meta)?;
    anyhow::ensure!(meta.is_file(), "{} is not a file", toml.display());
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.append_path_with_name(&toml, "package.toml").context("adding package.toml")?;
    let files = dir.join("files");
    if let Ok(meta) = std::fs::symlink_metadata(&files) {
        refuse_link(&files, &meta)?;
        if meta.is_dir() {
            add_tree(&mut tar, &files, Path::new("files"))?;
        }
    }
    Ok(tar.into_inner()?.finish()?)
}

fn refuse_link(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    anyhow::ensure!(
        !meta.file_type().is_symlink(),
        "{} is a symbolic link: a package folder may hold only real files and folders (copy the file in instead)",
        path.display()
    );
    Ok(())
}

/// Adds the folder `dir` as `name` with everything under it, refusing any link.
fn add_tree<W: std::io::Write>(tar: &mut tar::Builder<W>, dir: &Path, name: &Path) -> anyhow::Result<()> {
    tar.append_dir(name, dir).with_context(|| format!("adding {}", dir.display()))?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let (path, inner) = (e.path(), name.join(e.file_name()));
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        refuse_link(&path, &meta)?;
        if meta.is_dir() {
            add_tree(tar, &path, &inner)?;
        } else if meta.is_file() {
            tar.append_path_with_name(&path, &inner).with_context(|| format!("adding {}", path.display()))?;
        } else {
            anyhow::bail!("{} is not a regular file or folder: a package folder holds only those", path.display());
        }
    }
    Ok(())
}
