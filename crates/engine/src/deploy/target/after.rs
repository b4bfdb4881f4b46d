//! After a success: the rescan and the package's final action, each logged; neither
//! changes the target's result.

use super::exec;
use super::login::Access;
use crate::deploy::remote;
use crate::{Engine, now_ms};
use drover_domain::deployment::{Target, TargetState};
use drover_domain::package::Package;

impl Engine {
    /// After a successful target: the rescan and the final action the package asks for,
    /// each logged. Failures here are logged and do not change the target's result.
    pub(super) async fn after_success(&self, t: &Target, a: &Access, pkg: &Package) {
        let final_action = remote::final_action(pkg.def.final_action, &pkg.def.name);
        if !pkg.def.rescan_after && final_action.is_none() {
            return;
        }
        match self.store().target(t.id).await {
            Ok(now) if now.state == TargetState::Success => {}
            _ => return,
        }
        let note = |m: String| async move {
            if let Err(e) = self.store().note(t.id, &m, now_ms()).await {
                tracing::warn!(target_id = %t.id, "cannot log '{m}': {e}");
            }
        };
        let session = match self.connect(a).await {
            Ok(s) => s,
            Err(e) => return note(format!("rescan and final action skipped: asset '{}': {e}", a.asset.name)).await,
        };
        if pkg.def.rescan_after {
            let facts = exec(&session, &a.asset, &remote::facts(self.inner.deployers.hashes()), None, &[]).await;
            note(match facts {
                Ok(out) => {
                    let f = remote::parse_facts(&out);
                    match self.store().record_facts(a.asset.id, &f.host_facts(), now_ms()).await {
                        Ok(_) => format!(
                            "rescanned: host name {}, OS {}, architecture {}, MACs {}",
                            f.hostname.as_deref().unwrap_or("-"),
                            f.os.as_deref().unwrap_or("-"),
                            f.arch.as_deref().unwrap_or("-"),
                            f.macs.join(" ")
                        ),
                        Err(e) => format!("rescan failed: {e}"),
                    }
                }
                Err(s) => format!("rescan failed: {}", s.message),
            })
            .await;
        }
        if let Some(call) = final_action {
            let f = pkg.def.final_action;
            let privilege = a.privilege(a.credential.username == "root");
            let m = match privilege {
                None => format!(
                    "final action {} skipped: credential '{}' is not root and has no sudo",
                    f.action.as_str(),
                    a.credential.name
                ),
                Some(p) => match exec(&session, &a.asset, &call, Some(&p), &[]).await {
                    Ok(_) => format!("final action: {} in {} s", f.action.as_str(), f.delay_secs),
                    Err(s) => format!("final action {} failed: {}", f.action.as_str(), s.message),
                },
            };
            note(m).await;
        }
        session.close().await;
    }
}
