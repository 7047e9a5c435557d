//! `u7s kubectl ARGS…`: replaces this process with the release's kubectl, `KUBECONFIG` set to the
//! admin kubeconfig.

use super::ExitStatus;
use crate::host::binaries::Bins;
use crate::session::paths::Paths;
use anyhow::Result;
use std::os::unix::process::CommandExt;

pub fn run(args: &[String]) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let bins = Bins::from_process();
    let kubeconfig = crate::pki::Pki::new(paths.pki()).kubeconfig(crate::pki::Kubeconfig::Admin);
    let missing = bins.missing_kubernetes();
    if !missing.is_empty() && (!kubeconfig.exists() || bins.find("kubectl").is_none()) {
        // No `u7s up` can write the kubeconfig here: say what is missing instead.
        return Err(crate::Error::NotInRelease {
            what: "Kubernetes",
            missing,
            instead: crate::components::kube::WITHOUT.into(),
        }
        .into());
    }
    if !kubeconfig.exists() {
        anyhow::bail!(
            "{} does not exist: the admin kubeconfig is written by the first `u7s up` with Kubernetes \
             on the control plane (on a joined node, run kubectl on the master)",
            kubeconfig.display()
        );
    }
    let bin = bins.require("kubectl", "u7s kubectl")?;
    let e = std::process::Command::new(&bin)
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", bin.display()))
}
