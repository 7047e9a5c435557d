//! cri-dockerd: the CRI in front of rootless dockerd for the kubelet (`--cri docker` with
//! Kubernetes). Its socket is `$XDG_RUNTIME_DIR/usernetes/cri-dockerd.sock`; it drives the
//! session's Docker socket, uses the same CNI folders as containerd and CRI-O inside the
//! namespace, keeps its state under our data folder, and uses the pinned pause image.
//! Readiness: its socket speaks gRPC (HTTP/2 SETTINGS). The pause image is made from the
//! release's `pause` binary and loaded into dockerd by the job [`crate::process::images::JOB`]
//! (`u7s __load-docker-image`): there is no registry to pull it from.

use super::containerd::{CNI_BIN_DIR, CNI_CONF_DIR};
use super::{ComponentSpec, Finder, Job, Plan, Probe, need};
use crate::error::Result;
use crate::session::config::ChildConfig;
use crate::session::paths::Paths;
use std::path::PathBuf;
use std::time::Duration;

/// The pod sandbox image: cri-dockerd v0.4.3's own default (cmd/cri/options/options.go).
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// cri-dockerd's socket.
pub fn socket(p: &Paths) -> PathBuf {
    p.state.join("cri-dockerd.sock")
}

/// cri-dockerd's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let p = &cfg.paths;
    vec![
        format!(
            "--container-runtime-endpoint=unix://{}",
            socket(p).display()
        ),
        format!("--docker-endpoint={}", p.docker_host()),
        "--network-plugin=cni".into(),
        format!("--cni-bin-dir={CNI_BIN_DIR}"),
        format!("--cni-conf-dir={CNI_CONF_DIR}"),
        "--cni-cache-dir=/var/lib/cni/cache".into(),
        format!(
            "--cri-dockerd-root-directory={}",
            p.data_dir("cri-dockerd").display()
        ),
        format!("--pod-infra-container-image={PAUSE_IMAGE}"),
    ]
}

/// Adds cri-dockerd (after dockerd).
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    let program = need(
        find,
        "cri-dockerd",
        "Kubernetes on Docker (--cri docker)",
        "install a release that ships cri-dockerd, or use --cri containerd",
    )?;
    let p = &cfg.paths;
    let hint = "install a release with Kubernetes (it ships the pause binary, bin/pause)";
    let pause = need(find, "pause", "the pod sandbox image", hint)?;
    let mut job_args = vec![
        "__load-docker-image".into(),
        format!("--pause={}", pause.display()),
        format!("--docker={}", p.docker_sock().display()),
        format!("--archive={}", p.state.join("pause-image.tar").display()),
        format!("--name={PAUSE_IMAGE}"),
    ];
    // The cluster DNS's image, made from the release's coredns as for containerd.
    if let Some(c) = find("coredns") {
        job_args.push(format!("--coredns={}", c.display()));
    }
    plan.jobs.push(Job {
        name: crate::process::images::JOB.into(),
        program: need(find, "u7s", "the pause image load", hint)?,
        args: job_args,
        env: vec![],
        after: vec!["dockerd".into()],
        once_marker: None,
    });
    plan.dirs.push((p.data_dir("cri-dockerd"), 0o700));
    plan.components.push(ComponentSpec {
        name: "cri-dockerd".into(),
        program,
        args: args(cfg),
        env: vec![],
        after: vec!["dockerd".into()],
        probe: Probe::Grpc { socket: socket(p) },
        endpoint: format!("unix://{}", socket(p).display()),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![socket(p)],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn drives_the_session_docker_with_cni() {
        let c = cfg(Cri::Docker, false);
        let a = args(&c);
        assert_eq!(
            a[0],
            "--container-runtime-endpoint=unix:///run/user/1000/usernetes/cri-dockerd.sock"
        );
        assert!(a.contains(&"--docker-endpoint=unix:///run/user/1000/docker.sock".into()));
        assert!(a.contains(&"--network-plugin=cni".into()));
        assert!(a.contains(&"--cni-conf-dir=/etc/cni/net.d".into()));
        let mut p = Plan::default();
        add(&mut p, &c, &find_all).unwrap();
        assert_eq!(p.components[0].after, ["dockerd"]);
        let job = &p.jobs[0];
        assert_eq!(job.name, crate::process::images::JOB);
        assert_eq!(job.after, ["dockerd"]);
        assert_eq!(job.args[0], "__load-docker-image");
        assert!(job.args.contains(&"--pause=/rel/bin/pause".into()));
        assert!(
            job.args
                .contains(&"--docker=/run/user/1000/docker.sock".into())
        );
        assert!(job.args.contains(&format!("--name={PAUSE_IMAGE}")));
        assert!(
            job.args.contains(&"--coredns=/rel/bin/coredns".into()),
            "{:?}",
            job.args
        );
        let e = add(&mut p, &c, &find_none).unwrap_err().to_string();
        assert!(e.contains("cri-dockerd"), "{e}");
    }
}
