//! dockerd, rootless: data under `DATA/docker`, exec root and pid file under the state folder,
//! the socket at `$XDG_RUNTIME_DIR/docker.sock`, the storage driver that works here. dockerd
//! knows it is rootless from `ROOTLESSKIT_STATE_DIR` (set by RootlessKit for its child). Its
//! containerd is the session's (a component of its own, CRI plugin off, socket of design.md §7)
//! rather than one dockerd starts and stops itself: dockerd's own containerd costs it a
//! second at every stop. Without writable cgroups its default runtime is runc behind our OCI
//! runtime wrapper ([`crate::host::cgroups::wrapper_script`]): cri-dockerd asks for the pod's
//! cgroup parent and limits, which runc cannot honour there.

use super::{ComponentSpec, Facts, Finder, Plan, Probe, need};
use crate::error::Result;
use crate::session::config::ChildConfig;
use std::time::Duration;

/// The name under which dockerd knows the wrapped runc (unenforced cgroups).
pub const WRAPPED_RUNTIME: &str = "u7s-runc";

/// dockerd's arguments.
pub fn args(cfg: &ChildConfig, facts: &Facts) -> Vec<String> {
    let p = &cfg.paths;
    let mut a = vec![
        format!("--data-root={}", p.data_dir("docker").display()),
        format!("--exec-root={}", p.docker_exec_root().display()),
        format!("--pidfile={}", p.docker_pid_file().display()),
        format!("--host={}", p.docker_host()),
        format!("--storage-driver={}", facts.storage.docker_driver()),
        format!("--containerd={}", p.containerd_sock().display()),
        // Inside the namespaces cgroups are driven directly (as containerd and the kubelet do
        // here): the systemd driver would need the user's D-Bus, which a session started outside
        // a login (CI, cron, ssh without lingering) does not have.
        "--exec-opt=native.cgroupdriver=cgroupfs".into(),
    ];
    if !facts.cgroup2 {
        a.push(format!(
            "--add-runtime={WRAPPED_RUNTIME}={}",
            crate::host::cgroups::wrapper_path(p).display()
        ));
        a.push(format!("--default-runtime={WRAPPED_RUNTIME}"));
    }
    a
}

/// Adds dockerd to the plan.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, facts: &Facts, find: Finder) -> Result<()> {
    let hint = "install the release again (it ships Docker), or Debian's docker.io";
    let program = need(find, "dockerd", "dockerd", hint)?;
    super::containerd::add(plan, cfg, facts, find, true)?;
    let p = &cfg.paths;
    if !facts.cgroup2 {
        let u7s = need(find, "u7s", "dockerd without writable cgroups", hint)?;
        let runc = need(find, "runc", "dockerd", hint)?;
        plan.files.push((
            crate::host::cgroups::wrapper_path(p),
            crate::host::cgroups::wrapper_script(&u7s, &runc),
            0o700,
        ));
    }
    plan.dirs.push((p.data_dir("docker"), 0o710));
    plan.dirs.push((p.docker_exec_root(), 0o700));
    plan.components.push(ComponentSpec {
        name: "dockerd".into(),
        program,
        args: args(cfg, facts),
        env: vec![],
        after: vec!["containerd".into()],
        probe: Probe::DockerPing {
            socket: p.docker_sock(),
        },
        endpoint: p.docker_host(),
        // dockerd gives running containers 15 s (its --shutdown-timeout default).
        stop_timeout: Duration::from_secs(20),
        remove_before_start: vec![p.docker_pid_file()],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::host::storage::Storage;
    use crate::session::config::Cri;

    #[test]
    fn rootless_paths_and_driver() {
        let c = cfg(Cri::Docker, false);
        let f = Facts {
            storage: Storage::FuseOverlayfs,
            containerd_major: 1,
            cgroup2: false,
            etcd_version: None,
        };
        assert_eq!(
            args(&c, &f),
            [
                "--data-root=/home/u/.local/share/usernetes/docker",
                "--exec-root=/run/user/1000/usernetes/docker",
                "--pidfile=/run/user/1000/usernetes/docker.pid",
                "--host=unix:///run/user/1000/docker.sock",
                "--storage-driver=fuse-overlayfs",
                "--containerd=/run/user/1000/usernetes/containerd/containerd.sock",
                "--exec-opt=native.cgroupdriver=cgroupfs",
                "--add-runtime=u7s-runc=/run/user/1000/usernetes/oci-runtime",
                "--default-runtime=u7s-runc",
            ]
        );
        let delegated = Facts {
            cgroup2: true,
            etcd_version: None,
            ..f.clone()
        };
        assert!(!args(&c, &delegated).iter().any(|a| a.contains("runtime")));
        let mut plan = Plan::default();
        add(&mut plan, &c, &f, &find_all).unwrap();
        let names: Vec<&str> = plan.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["containerd", "dockerd"]);
        assert!(
            plan.files
                .iter()
                .any(|(_, t, _)| t.contains("disabled_plugins"))
        );
        let wrapper = crate::host::cgroups::wrapper_path(&c.paths);
        let (_, script, _) = plan.files.iter().find(|(p, _, _)| *p == wrapper).unwrap();
        assert!(
            script.contains("__oci-runtime --runc '/rel/bin/runc'"),
            "{script}"
        );
        let d = &plan.components[1];
        assert_eq!(d.after, ["containerd"]);
        assert_eq!(d.program, std::path::Path::new("/rel/bin/dockerd"));
        assert_eq!(
            d.probe,
            Probe::DockerPing {
                socket: "/run/user/1000/docker.sock".into()
            }
        );
        assert_eq!(
            d.remove_before_start,
            [std::path::PathBuf::from(
                "/run/user/1000/usernetes/docker.pid"
            )]
        );
    }

    #[test]
    fn missing_runc_is_reported() {
        let only_dockerd = |n: &str| (n != "runc").then(|| std::path::PathBuf::from("/x").join(n));
        let f = Facts {
            storage: Storage::Overlay,
            containerd_major: 1,
            cgroup2: false,
            etcd_version: None,
        };
        let e = add(
            &mut Plan::default(),
            &cfg(Cri::Docker, false),
            &f,
            &only_dockerd,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("runc") && e.to_string().contains("needs it"),
            "{e}"
        );
    }
}
