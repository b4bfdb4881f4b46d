//! `drover login` and `drover passwd`.

use super::Ctx;
use super::client::{Client, Saved, save};
use super::output::out;
use super::output::read_stdin_line;
use super::tls::{self, Trust};
use anyhow::bail;
use drover_api::Done;
use drover_api::session::{LoggedIn, Login as LoginBody, PasswordChange};
use std::io::IsTerminal;

#[derive(clap::Args, Debug)]
pub struct Login {
    #[arg(long, default_value = "admin")]
    user: String,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(clap::Args, Debug)]
pub struct Passwd {
    /// Read the current and the new password, one a line, from standard input.
    #[arg(long)]
    stdin: bool,
}

pub async fn login(ctx: &Ctx, a: Login) -> anyhow::Result<u8> {
    let c = trusted(ctx.client.anonymous(), !a.password_stdin).await?;
    let password = if a.password_stdin {
        read_stdin_line("password")?
    } else {
        rpassword::prompt_password(format!("Password for {}: ", a.user))?
    };
    let answer: LoggedIn = c.post("/session", &LoginBody { name: a.user.clone(), password }).await?;
    let (server_fingerprint, server_ca) = match &c.trust {
        Trust::Pin(sha) => (Some(sha.clone()), None),
        Trust::Ca(path) => (None, Some(path.canonicalize().unwrap_or_else(|_| path.clone()))),
        Trust::Public => (None, None),
    };
    let saved = Saved { server: Some(c.server.clone()), token: Some(answer.token), server_fingerprint, server_ca };
    let path = save(&saved)?;
    out!("logged in to {} as {}; token saved in {}", c.server, answer.user.name, path.display());
    Ok(0)
}

/// The client to log in with. An `https://` server whose certificate this client does
/// not trust yet (self-signed, as `drover serve` makes on first start) has its
/// fingerprint shown, like SSH shows a new host's key: pinned when the user accepts it
/// at the terminal; without a terminal, nothing is sent and the fingerprint must be
/// given with --server-fingerprint.
async fn trusted(c: Client, ask: bool) -> anyhow::Result<Client> {
    if !c.server.starts_with("https://") || c.trust != Trust::Public || c.reachable().await.is_ok() {
        return Ok(c);
    }
    let sha = tls::peek(&c.server).await?;
    let fingerprint = drover_domain::cert_fingerprint::show(&sha);
    eprintln!(
        "The server {} presents a TLS certificate no public authority vouches for (self-signed?).\n  SHA-256 fingerprint {fingerprint}\n\
         Compare it with the fingerprint `drover serve` printed when it started (or, on the server: \
         openssl x509 -noout -fingerprint -sha256 -in DATA_DIR/tls-cert.pem).",
        c.server
    );
    let interactive = ask && std::io::stdin().is_terminal();
    if !interactive {
        bail!(
            "not logged in: the server's certificate is not trusted yet; after checking the fingerprint above, run `drover login --server-fingerprint {fingerprint}` (or --server-ca FILE for a certificate from your own authority)"
        );
    }
    eprint!("Trust this certificate and pin it for {}? [y/N] ", c.server);
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not logged in: the server's certificate was not accepted");
    }
    c.trusting(Trust::Pin(sha))
}

pub async fn passwd(ctx: &Ctx, a: Passwd) -> anyhow::Result<u8> {
    let (current, new) = if a.stdin {
        let text = read_stdin_line("passwords")?;
        let mut lines = text.lines();
        let current = lines.next().unwrap_or_default().to_string();
        (current, lines.next().unwrap_or_default().to_string())
    } else {
        let current = rpassword::prompt_password("Current password: ")?;
        let new = rpassword::prompt_password("New password: ")?;
        if rpassword::prompt_password("New password again: ")? != new {
            bail!("the new passwords differ");
        }
        (current, new)
    };
    let _: Done = ctx.client.post("/me/password", &PasswordChange { current, new }).await?;
    out!("password changed; log in again with `drover login`");
    Ok(0)
}
