//! CRI-O, rootless (research §5.6, §2.6): `_CRIO_ROOTLESS=1`, cgroupfs, conmon in the pod's cgroup,
//! storage and run folders relocated under our data and state folders, the socket of
//! design.md §7, CNI folders, an accept-anything signature policy and docker.io as the search
//! registry. The config is generated on every start. Without writable cgroups the OCI runtime
//! is runc behind our wrapper ([`crate::host::cgroups::wrapper_script`]), which drops the cgroup
//! path and limits CRI-O still writes (crun is not wrapped: it is preferred only where cgroups
//! are delegated). A release built with `crio`, `pinns` and `conmon` ships all of it; where one
//! is missing `u7s up --cri crio` stops before starting anything, naming it.

use super::{ComponentSpec, Facts, Finder, Plan, Probe, need};
use crate::error::Result;
use crate::host::storage::Storage;
use crate::session::config::ChildConfig;
use crate::session::paths::Paths;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

/// What to do on a release without CRI-O.
pub const WITHOUT: &str =
    "use --cri containerd or --cri docker, or install a release that ships CRI-O";
const HINT: &str = WITHOUT;

/// The generated files of CRI-O.
pub struct CrioFiles {
    pub conf: PathBuf,
    pub policy: PathBuf,
    pub registries: PathBuf,
}

/// CRI-O's `HOME`: containers/image reads `registries.conf` only from a path CRI-O would
/// have to be given (it has no flag for it) or from `$HOME/.config/containers/`, so CRI-O gets
/// a home of its own in the session's state, and the user's own containers config (podman's)
/// is neither read nor touched.
pub fn crio_home(p: &Paths) -> PathBuf {
    p.crio_state().join("home")
}

/// Where the generated files go.
pub fn files(p: &Paths) -> CrioFiles {
    CrioFiles {
        conf: p.crio_state().join("crio.conf"),
        policy: p.crio_state().join("policy.json"),
        registries: crio_home(p).join(".config/containers/registries.conf"),
    }
}

fn s(v: impl std::fmt::Display) -> Value {
    Value::String(v.to_string())
}

fn t(pairs: Vec<(&str, Value)>) -> Value {
    Value::Table(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Table>(),
    )
}

/// The image store CRI-O's pulls are served from ([`crate::registry::store`]): kept across
/// sessions, beside CRI-O's own storage.
pub fn image_store(p: &Paths) -> PathBuf {
    p.data_dir("images")
}

/// crio.conf.
pub fn config(
    p: &Paths,
    storage: Storage,
    fuse_overlayfs: Option<&Path>,
    conmon: &Path,
    runtime: (&str, &Path),
    cgroups_writable: bool,
) -> String {
    let st = p.crio_state();
    let mut crio = vec![
        (
            "root",
            s(p.data_dir("containers").join("storage").display()),
        ),
        ("runroot", s(p.state.join("containers/storage").display())),
        ("version_file", s(st.join("version").display())),
        (
            "clean_shutdown_file",
            s(st.join("clean.shutdown").display()),
        ),
        ("storage_driver", s(storage.crio_driver())),
    ];
    if let (Storage::FuseOverlayfs, Some(f)) = (storage, fuse_overlayfs) {
        crio.push((
            "storage_option",
            Value::Array(vec![s(format!("overlay.mount_program={}", f.display()))]),
        ));
    }
    crio.push(("api", t(vec![("listen", s(p.crio_sock().display()))])));
    crio.push((
        "image",
        t(vec![
            ("signature_policy", s(files(p).policy.display())),
            // The sandbox image the session's registry serves (crate::registry).
            ("pause_image", s(super::containerd::SANDBOX_IMAGE)),
        ]),
    ));
    let (rt_name, rt_path) = runtime;
    crio.push((
        "runtime",
        t(vec![
            ("cgroup_manager", s("cgroupfs")),
            // A dropped infra container (the default) has CRI-O make the pod's cgroup itself,
            // which fails where cgroups are not writable ("failed to create cpuset"); a real
            // pause container goes through the OCI runtime, whose wrapper drops the cgroup.
            ("drop_infra_ctr", Value::Boolean(cgroups_writable)),
            // Ports below 1024 for every user of a pod's network namespace, as containerd's
            // CRI does (enable_unprivileged_ports): CoreDNS runs as 65532 and listens on 53.
            (
                "default_sysctls",
                Value::Array(vec![s("net.ipv4.ip_unprivileged_port_start=0")]),
            ),
            ("container_exits_dir", s(st.join("exits").display())),
            (
                "container_attach_socket_dir",
                s(st.join("attach").display()),
            ),
            ("namespaces_dir", s(st.join("ns").display())),
            ("default_runtime", s(rt_name)),
            (
                "runtimes",
                t(vec![(
                    rt_name,
                    // The monitor (conmon) per runtime handler: the top-level `conmon` and
                    // `conmon_cgroup` keys are deprecated in current CRI-O.
                    t(vec![
                        ("runtime_type", s("oci")),
                        ("runtime_path", s(rt_path.display())),
                        ("runtime_root", s(st.join(rt_name).display())),
                        ("monitor_path", s(conmon.display())),
                        ("monitor_cgroup", s("pod")),
                    ]),
                )]),
            ),
        ]),
    ));
    crio.push((
        "network",
        t(vec![
            ("network_dir", s("/etc/cni/net.d/")),
            ("plugin_dirs", Value::Array(vec![s("/opt/cni/bin/")])),
        ]),
    ));
    let root = t(vec![("crio", t(crio))]);
    format!(
        "# Generated by u7s on every start; edits are overwritten.\n{}",
        toml::to_string(&root).expect("a TOML table serialises")
    )
}

/// Adds CRI-O to the plan.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, facts: &Facts, find: Finder) -> Result<()> {
    // Every missing program at once (an OCI runtime: crun or runc with a cgroup namespace, else
    // runc behind the wrapper).
    let mut wanted = vec!["crio", "conmon", "pinns"];
    if !facts.cgroup2 || find("crun").is_none() {
        wanted.push("runc");
    }
    super::check_present("CRI-O", &wanted, find, WITHOUT)?;
    let program = need(find, "crio", "CRI-O", HINT)?;
    let conmon = need(find, "conmon", "CRI-O", HINT)?;
    need(find, "pinns", "CRI-O", HINT)?;
    let p = &cfg.paths;
    let runtime = match find("crun") {
        Some(c) if facts.cgroup2 => ("crun", c),
        _ if facts.cgroup2 => ("runc", need(find, "runc", "CRI-O", HINT)?),
        _ => {
            let u7s = need(find, "u7s", "CRI-O without writable cgroups", HINT)?;
            let runc = need(find, "runc", "CRI-O", HINT)?;
            let wrapper = crate::host::cgroups::wrapper_path(p);
            plan.files.push((
                wrapper.clone(),
                crate::host::cgroups::wrapper_script(&u7s, &runc),
                0o700,
            ));
            ("runc", wrapper)
        }
    };
    let f = files(p);
    let fuse = find("fuse-overlayfs");
    plan.dirs.push((p.crio_state(), 0o700));
    plan.dirs.push((p.data_dir("containers"), 0o700));
    plan.files.push((
        f.conf.clone(),
        config(
            p,
            facts.storage,
            fuse.as_deref(),
            &conmon,
            (runtime.0, &runtime.1),
            facts.cgroup2,
        ),
        0o600,
    ));
    plan.files.push((
        f.policy.clone(),
        "{\"default\": [{\"type\": \"insecureAcceptAnything\"}]}\n".into(),
        0o644,
    ));
    plan.files.push((
        f.registries.clone(),
        crate::registry::registries_conf(crate::registry::PORT),
        0o644,
    ));
    // CRI-O only pulls: the pause and CoreDNS images (and those of `u7s images load`) come
    // from the session's own registry on the namespace's loopback (crate::registry).
    let u7s = need(find, "u7s", "CRI-O's image registry", HINT)?;
    let mut args = vec![
        "__registry".to_string(),
        format!("--store={}", image_store(p).display()),
        format!("--listen=127.0.0.1:{}", crate::registry::PORT),
    ];
    match find("pause") {
        Some(pause) => args.push(format!("--pause={}", pause.display())),
        None => plan.notes.push(format!(
            "no pause binary: {} is not served to CRI-O (install a release with Kubernetes)",
            super::containerd::SANDBOX_IMAGE
        )),
    }
    if cfg.session.kube
        && let Some(c) = find("coredns")
    {
        args.push(format!("--coredns={}", c.display()));
    }
    plan.components.push(ComponentSpec {
        name: crate::registry::COMPONENT.into(),
        program: u7s,
        args,
        env: vec![],
        after: vec![],
        probe: Probe::HttpOk {
            port: crate::registry::PORT,
            path: "/v2/".into(),
            want_ok: false,
        },
        endpoint: format!(
            "http://127.0.0.1:{} (inside the namespace)",
            crate::registry::PORT
        ),
        stop_timeout: Duration::from_secs(5),
        remove_before_start: vec![],
    });
    plan.components.push(ComponentSpec {
        name: "crio".into(),
        program,
        args: vec![format!("--config={}", f.conf.display())],
        env: vec![
            ("_CRIO_ROOTLESS".into(), "1".into()),
            ("HOME".into(), crio_home(p).display().to_string()),
        ],
        after: vec![crate::registry::COMPONENT.into()],
        probe: Probe::Grpc {
            socket: p.crio_sock(),
        },
        endpoint: format!("unix://{}", p.crio_sock().display()),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn rootless_settings() {
        let c = cfg(Cri::Crio, false);
        let text = config(
            &c.paths,
            Storage::FuseOverlayfs,
            Some(Path::new("/rel/bin/fuse-overlayfs")),
            Path::new("/rel/bin/conmon"),
            ("crun", Path::new("/rel/bin/crun")),
            true,
        );
        let v: Table = text.parse().unwrap();
        let crio = &v["crio"];
        assert_eq!(crio["storage_driver"].as_str(), Some("overlay"));
        assert_eq!(
            crio["storage_option"][0].as_str(),
            Some("overlay.mount_program=/rel/bin/fuse-overlayfs")
        );
        assert_eq!(
            crio["api"]["listen"].as_str(),
            Some("/run/user/1000/usernetes/crio/crio.sock")
        );
        assert_eq!(crio["runtime"]["cgroup_manager"].as_str(), Some("cgroupfs"));
        let crun = &crio["runtime"]["runtimes"]["crun"];
        assert_eq!(crun["monitor_cgroup"].as_str(), Some("pod"));
        assert_eq!(crun["monitor_path"].as_str(), Some("/rel/bin/conmon"));
        assert_eq!(
            crio["runtime"]["runtimes"]["crun"]["runtime_path"].as_str(),
            Some("/rel/bin/crun")
        );
        assert_eq!(
            crio["root"].as_str(),
            Some("/home/u/.local/share/usernetes/containers/storage")
        );
    }

    #[test]
    fn plan_sets_rootless_env_and_prefers_crun() {
        let c = cfg(Cri::Crio, false);
        let f = Facts {
            storage: Storage::Overlay,
            containerd_major: 1,
            cgroup2: true,
            etcd_version: None,
        };
        let mut p = Plan::default();
        add(&mut p, &c, &f, &find_all).unwrap();
        // The session's image registry first (CRI-O only pulls), then CRI-O after it.
        let reg = &p.components[0];
        assert_eq!(reg.name, crate::registry::COMPONENT);
        assert_eq!(reg.args[0], "__registry");
        assert!(
            reg.args.iter().any(|a| a.starts_with("--pause=")),
            "{:?}",
            reg.args
        );
        assert!(
            reg.args
                .contains(&format!("--listen=127.0.0.1:{}", crate::registry::PORT))
        );
        let comp = &p.components[1];
        assert_eq!(comp.name, "crio");
        assert_eq!(comp.after, [crate::registry::COMPONENT]);
        assert!(
            p.files[0]
                .1
                .contains("pause_image = \"registry.k8s.io/pause:")
        );
        assert!(p.files[2].1.contains("127.0.0.1:10265/registry.k8s.io"));
        assert!(comp.env.contains(&("_CRIO_ROOTLESS".into(), "1".into())));
        assert_eq!(p.files.len(), 3);
        assert!(p.files[0].1.contains("default_runtime = \"crun\""));
        let no_crun = |n: &str| (n != "crun").then(|| find_all(n)).flatten();
        let mut p = Plan::default();
        add(&mut p, &c, &f, &no_crun).unwrap();
        assert!(p.files[0].1.contains("default_runtime = \"runc\""));
        let no_pinns = |n: &str| (n != "pinns").then(|| find_all(n)).flatten();
        let e = add(&mut Plan::default(), &c, &f, &no_pinns).unwrap_err();
        assert!(e.to_string().contains("pinns"), "{e}");
    }

    #[test]
    fn without_writable_cgroups_runc_is_wrapped() {
        let c = cfg(Cri::Crio, false);
        let f = Facts {
            storage: Storage::Overlay,
            containerd_major: 1,
            cgroup2: false,
            etcd_version: None,
        };
        let mut p = Plan::default();
        add(&mut p, &c, &f, &find_all).unwrap();
        let wrapper = crate::host::cgroups::wrapper_path(&c.paths);
        let (_, script, mode) = p.files.iter().find(|(x, _, _)| *x == wrapper).unwrap();
        assert!(
            script.contains("__oci-runtime --runc '/rel/bin/runc'"),
            "{script}"
        );
        assert_eq!(*mode, 0o700);
        let conf = &p
            .files
            .iter()
            .find(|(x, _, _)| *x == files(&c.paths).conf)
            .unwrap()
            .1;
        let v: Table = conf.parse().unwrap();
        let runc = &v["crio"]["runtime"]["runtimes"]["runc"];
        assert_eq!(runc["runtime_path"].as_str(), wrapper.to_str());
        // A real pause container, through the wrapper, rather than a pod cgroup CRI-O makes.
        assert_eq!(
            v["crio"]["runtime"]["drop_infra_ctr"].as_bool(),
            Some(false)
        );
        assert_eq!(
            v["crio"]["runtime"]["default_sysctls"][0].as_str(),
            Some("net.ipv4.ip_unprivileged_port_start=0")
        );
    }
}
