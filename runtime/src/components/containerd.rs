//! containerd with the CRI plugin, its config generated for the bundled version: schema
//! `version = 2` for containerd 1.x (Debian's 1.6), `version = 3` for 2.x (the release pin),
//! with the rootless settings of research §5.5 (no AppArmor, restricted OOM score, no hugetlb
//! controller, cgroups off on 1.x unless cgroup v2 is delegated), the snapshotter that works
//! here, CNI folders, and the socket of design.md §7. With fuse-overlayfs it also runs the
//! `containerd-fuse-overlayfs-grpc` snapshotter plugin.

use super::{ComponentSpec, Facts, Finder, Plan, Probe, need};
use crate::error::{Error, Result};
use crate::host::storage::Storage;
use crate::session::config::ChildConfig;
use crate::session::paths::Paths;
use std::time::Duration;
use toml::{Table, Value};

/// The CRI plugin's id (the same in 1.x and 2.x).
pub const CRI_PLUGIN: &str = "io.containerd.grpc.v1.cri";
/// The pod sandbox ("pause") image, pinned: containerd 2.x's default `sandbox` image (its
/// `internal/cri/config` `DefaultSandboxImage`), written into both schemas so containerd 1.x
/// and 2.x ask for the same image (the kubelet no longer passes one).
pub const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.10.2";
/// Where CNI plugins and configs are inside the namespace.
pub const CNI_BIN_DIR: &str = "/opt/cni/bin";
pub const CNI_CONF_DIR: &str = "/etc/cni/net.d";

/// The major version in `containerd --version` output (`containerd github.com/containerd/containerd 1.6.20~ds1 …`,
/// `containerd github.com/containerd/containerd/v2 v2.1.4 …`).
pub fn parse_major(version_output: &str) -> Option<u32> {
    version_output.split_whitespace().skip(1).find_map(|w| {
        let w = w.strip_prefix('v').unwrap_or(w);
        let (major, rest) = w.split_once('.')?;
        let minor_ok = rest.chars().next().is_some_and(|c| c.is_ascii_digit());
        (minor_ok && !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()))
            .then(|| major.parse().ok())
            .flatten()
    })
}

/// The fuse-overlayfs snapshotter plugin's socket.
pub fn fuse_plugin_sock(p: &Paths) -> std::path::PathBuf {
    p.containerd_state().join("fuse-overlayfs.sock")
}

fn table(pairs: Vec<(&str, Value)>) -> Table {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn s(v: impl std::fmt::Display) -> Value {
    Value::String(v.to_string())
}

/// What the config is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    pub major: u32,
    pub cgroup2: bool,
    pub fuse_plugin: bool,
    /// Serving dockerd only: the CRI plugin is disabled (it costs start time and is unused).
    pub for_docker: bool,
}

/// containerd 2.x without writable cgroups: runc is reached through our OCI runtime wrapper
/// ([`crate::host::cgroups::wrapper_script`]), `BinaryName` of the runc runtime. containerd 1.x has
/// `disable_cgroup` instead (removed in 2.0).
pub fn needs_wrapper(f: &Flavor) -> bool {
    f.major >= 2 && !f.cgroup2 && !f.for_docker
}

/// The OCI platform images are unpacked for: this machine's (the release is built per
/// architecture).
fn unpack_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

/// The snapshotter a config of [`config`] gives the CRI (containerd 2 or 1.x layout);
/// containerd's default, overlayfs, when it names none.
pub fn snapshotter_of(config_text: &str) -> String {
    let t: Table = toml::from_str(config_text).unwrap_or_default();
    let plugins = t.get("plugins");
    let v2 = plugins
        .and_then(|p| p.get("io.containerd.cri.v1.images"))
        .and_then(|i| i.get("snapshotter"));
    let v1 = plugins
        .and_then(|p| p.get(CRI_PLUGIN))
        .and_then(|c| c.get("containerd"))
        .and_then(|c| c.get("snapshotter"));
    v2.or(v1)
        .and_then(Value::as_str)
        .unwrap_or("overlayfs")
        .to_string()
}

/// The config file text.
pub fn config(p: &Paths, snapshotter: &str, f: Flavor) -> String {
    let Flavor {
        major,
        cgroup2,
        fuse_plugin,
        for_docker,
    } = f;
    let mut runc_options = table(vec![("SystemdCgroup", Value::Boolean(false))]);
    if needs_wrapper(&f) {
        runc_options.insert(
            "BinaryName".into(),
            s(crate::host::cgroups::wrapper_path(p).display()),
        );
    }
    let runc = table(vec![
        ("runtime_type", s("io.containerd.runc.v2")),
        ("options", Value::Table(runc_options)),
    ]);
    let runtimes = Value::Table(table(vec![("runc", Value::Table(runc))]));
    let cni = Value::Table(table(vec![
        ("bin_dir", s(CNI_BIN_DIR)),
        ("conf_dir", s(CNI_CONF_DIR)),
    ]));
    let mut plugins = Table::new();
    if major >= 2 {
        let runtime = table(vec![
            ("disable_apparmor", Value::Boolean(true)),
            ("restrict_oom_score_adj", Value::Boolean(true)),
            ("disable_hugetlb_controller", Value::Boolean(true)),
            (
                "containerd",
                Value::Table(table(vec![
                    ("default_runtime_name", s("runc")),
                    ("runtimes", runtimes),
                ])),
            ),
            ("cni", cni),
        ]);
        plugins.insert("io.containerd.cri.v1.runtime".into(), Value::Table(runtime));
        // The transfer service (`ctr images import`, the CRI's pulls) unpacks only into the
        // snapshotters listed here, by default overlayfs alone: with native or fuse-overlayfs,
        // an import failed "no unpack platforms defined" (a data folder on an overlay root, as
        // in a container without a volume).
        let unpack = table(vec![
            ("platform", s(unpack_platform())),
            ("snapshotter", s(snapshotter)),
        ]);
        plugins.insert(
            "io.containerd.transfer.v1.local".into(),
            Value::Table(table(vec![(
                "unpack_config",
                Value::Array(vec![Value::Table(unpack)]),
            )])),
        );
        plugins.insert(
            "io.containerd.cri.v1.images".into(),
            Value::Table(table(vec![
                ("snapshotter", s(snapshotter)),
                (
                    "pinned_images",
                    Value::Table(table(vec![("sandbox", s(SANDBOX_IMAGE))])),
                ),
            ])),
        );
    } else {
        let cri = table(vec![
            // Without delegated cgroup v2 there is no cgroup to manage (rootless on v1).
            ("disable_cgroup", Value::Boolean(!cgroup2)),
            ("sandbox_image", s(SANDBOX_IMAGE)),
            ("disable_apparmor", Value::Boolean(true)),
            ("restrict_oom_score_adj", Value::Boolean(true)),
            ("disable_hugetlb_controller", Value::Boolean(true)),
            (
                "containerd",
                Value::Table(table(vec![
                    ("snapshotter", s(snapshotter)),
                    ("default_runtime_name", s("runc")),
                    ("runtimes", runtimes),
                ])),
            ),
            ("cni", cni),
        ]);
        plugins.insert(CRI_PLUGIN.into(), Value::Table(cri));
    }
    let mut root = table(vec![
        ("version", Value::Integer(if major >= 2 { 3 } else { 2 })),
        ("root", s(p.data_dir("containerd").display())),
        ("state", s(p.containerd_state().display())),
        (
            "grpc",
            Value::Table(table(vec![("address", s(p.containerd_sock().display()))])),
        ),
        ("plugins", Value::Table(plugins)),
    ]);
    if for_docker {
        let mut off = vec![s(CRI_PLUGIN)];
        if major >= 2 {
            off.extend([
                s("io.containerd.cri.v1.images"),
                s("io.containerd.cri.v1.runtime"),
            ]);
        }
        root.insert("disabled_plugins".into(), Value::Array(off));
    }
    if fuse_plugin {
        let fuse = table(vec![
            ("type", s("snapshot")),
            ("address", s(fuse_plugin_sock(p).display())),
        ]);
        root.insert(
            "proxy_plugins".into(),
            Value::Table(table(vec![("fuse-overlayfs", Value::Table(fuse))])),
        );
    }
    format!(
        "# Generated by u7s for containerd {major}.x on every start; edits are overwritten.\n{}",
        toml::to_string(&root).expect("a TOML table serialises")
    )
}

/// Adds containerd (and the fuse-overlayfs plugin when that is the storage) to the plan;
/// `for_docker`: as dockerd's containerd (CRI plugin off).
pub fn add(
    plan: &mut Plan,
    cfg: &ChildConfig,
    facts: &Facts,
    find: Finder,
    for_docker: bool,
) -> Result<()> {
    let hint = "install the release again (it ships containerd), or Debian's containerd";
    let program = need(find, "containerd", "containerd", hint)?;
    for dep in ["containerd-shim-runc-v2", "runc"] {
        need(find, dep, "containerd", hint)?;
    }
    let p = &cfg.paths;
    // dockerd keeps images in its own storage driver: its containerd needs no fuse plugin.
    let fuse_bin = (facts.storage == Storage::FuseOverlayfs && !for_docker)
        .then(|| find("containerd-fuse-overlayfs-grpc"))
        .flatten();
    let snapshotter = facts.storage.containerd_snapshotter(fuse_bin.is_some());
    plan.dirs.push((p.data_dir("containerd"), 0o700));
    plan.dirs.push((p.containerd_state(), 0o700));
    let flavor = Flavor {
        major: facts.containerd_major,
        cgroup2: facts.cgroup2,
        fuse_plugin: fuse_bin.is_some(),
        for_docker,
    };
    if needs_wrapper(&flavor) {
        let u7s = need(find, "u7s", "containerd without writable cgroups", hint)?;
        let runc = need(find, "runc", "containerd", hint)?;
        plan.files.push((
            crate::host::cgroups::wrapper_path(p),
            crate::host::cgroups::wrapper_script(&u7s, &runc),
            0o700,
        ));
    }
    plan.files
        .push((p.containerd_config(), config(p, snapshotter, flavor), 0o600));
    if !for_docker {
        add_pause_image(plan, cfg, find, snapshotter)?;
    }
    let mut after = vec![];
    if let Some(fuse) = fuse_bin {
        after.push("fuse-overlayfs-grpc".to_string());
        plan.components.push(ComponentSpec {
            name: "fuse-overlayfs-grpc".into(),
            program: fuse,
            args: vec![
                fuse_plugin_sock(p).display().to_string(),
                p.data_dir("containerd")
                    .join("io.containerd.snapshotter.v1.fuse-overlayfs")
                    .display()
                    .to_string(),
            ],
            env: vec![],
            after: vec![],
            probe: Probe::Grpc {
                socket: fuse_plugin_sock(p),
            },
            endpoint: format!("unix://{}", fuse_plugin_sock(p).display()),
            stop_timeout: Duration::from_secs(5),
            remove_before_start: vec![fuse_plugin_sock(p)],
        });
    }
    plan.components.push(ComponentSpec {
        name: "containerd".into(),
        program,
        args: vec![format!("--config={}", p.containerd_config().display())],
        env: vec![],
        after,
        probe: Probe::Grpc {
            socket: p.containerd_sock(),
        },
        endpoint: format!("unix://{}", p.containerd_sock().display()),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![],
    });
    Ok(())
}

/// With Kubernetes, the release's `coredns` binary (the job makes the CoreDNS image from it), or a
/// note saying the cluster DNS will not start.
fn coredns_binary(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Option<std::path::PathBuf> {
    if !cfg.session.kube {
        return None;
    }
    let found = find("coredns");
    if found.is_none() {
        plan.notes.push(format!(
            "no coredns binary: {} is not imported and the cluster DNS will not start \
             (install a release that ships bin/coredns)",
            super::coredns::IMAGE
        ));
    }
    found
}

/// The job importing the pause image (see [`crate::process::images`]); required with Kubernetes, a note
/// without (CRI clients then bring their own sandbox image).
fn add_pause_image(
    plan: &mut Plan,
    cfg: &ChildConfig,
    find: Finder,
    snapshotter: &str,
) -> Result<()> {
    let hint = "install a release with Kubernetes (it ships the pause binary, bin/pause)";
    let pause = match find("pause") {
        Some(p) => p,
        None if cfg.session.kube => {
            return Err(Error::MissingBinary(
                "pause".into(),
                format!("the pod sandbox image needs it; {hint}"),
            ));
        }
        None => {
            plan.notes.push(format!(
                "no pause binary: {SANDBOX_IMAGE} is not imported ({hint})"
            ));
            return Ok(());
        }
    };
    let spec = crate::process::images::ImportSpec {
        pause,
        ctr: need(find, "ctr", "the pause image import", hint)?,
        address: cfg.paths.containerd_sock(),
        snapshotter: snapshotter.into(),
        archive: cfg.paths.state.join("pause-image.tar"),
        coredns: coredns_binary(plan, cfg, find),
    };
    let mut args = vec!["__import-images".to_string()];
    args.extend(spec.to_args());
    plan.jobs.push(super::Job {
        name: crate::process::images::JOB.into(),
        program: need(find, "u7s", "the pause image import", hint)?,
        args,
        env: vec![],
        after: vec!["containerd".into()],
        once_marker: None,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    fn fl(major: u32, cgroup2: bool, fuse_plugin: bool) -> Flavor {
        Flavor {
            major,
            cgroup2,
            fuse_plugin,
            for_docker: false,
        }
    }

    fn parsed(text: &str) -> Table {
        text.parse::<Table>().unwrap()
    }

    fn get<'a>(t: &'a Table, path: &[&str]) -> &'a Value {
        let mut v = t.get(path[0]).unwrap_or_else(|| panic!("{}", path[0]));
        for k in &path[1..] {
            v = v
                .get(k)
                .unwrap_or_else(|| panic!("missing {k} in {path:?}"));
        }
        v
    }

    #[test]
    fn versions_from_real_outputs() {
        assert_eq!(
            parse_major(
                "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
            ),
            Some(1)
        );
        assert_eq!(
            parse_major(
                "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376"
            ),
            Some(2)
        );
        assert_eq!(parse_major("garbage"), None);
    }

    #[test]
    fn schema_2_for_containerd_1() {
        let c = cfg(Cri::Containerd, false);
        let t = parsed(&config(&c.paths, "overlayfs", fl(1, false, false)));
        assert_eq!(t["version"].as_integer(), Some(2));
        assert_eq!(
            get(&t, &["grpc", "address"]).as_str(),
            Some("/run/user/1000/usernetes/containerd/containerd.sock")
        );
        assert_eq!(
            t["root"].as_str(),
            Some("/home/u/.local/share/usernetes/containerd")
        );
        let cri = ["plugins", CRI_PLUGIN];
        assert_eq!(
            get(&t, &[cri[0], cri[1], "disable_cgroup"]).as_bool(),
            Some(true)
        );
        assert_eq!(
            get(&t, &[cri[0], cri[1], "disable_apparmor"]).as_bool(),
            Some(true)
        );
        assert_eq!(
            get(&t, &[cri[0], cri[1], "restrict_oom_score_adj"]).as_bool(),
            Some(true)
        );
        assert_eq!(
            get(&t, &[cri[0], cri[1], "containerd", "snapshotter"]).as_str(),
            Some("overlayfs")
        );
        assert_eq!(
            get(&t, &[cri[0], cri[1], "cni", "conf_dir"]).as_str(),
            Some("/etc/cni/net.d")
        );
        assert_eq!(
            get(&t, &[cri[0], cri[1], "sandbox_image"]).as_str(),
            Some(SANDBOX_IMAGE)
        );
        assert!(t.get("proxy_plugins").is_none());
        assert!(t.get("disabled_plugins").is_none(), "CRI stays on");
        // With cgroup v2 delegated, cgroups stay on.
        let t = parsed(&config(&c.paths, "overlayfs", fl(1, true, false)));
        assert_eq!(
            get(&t, &[cri[0], cri[1], "disable_cgroup"]).as_bool(),
            Some(false)
        );
    }

    #[test]
    fn schema_3_for_containerd_2() {
        let c = cfg(Cri::Containerd, false);
        let t = parsed(&config(&c.paths, "fuse-overlayfs", fl(2, true, true)));
        assert_eq!(t["version"].as_integer(), Some(3));
        let rt = ["plugins", "io.containerd.cri.v1.runtime"];
        assert_eq!(
            get(&t, &[rt[0], rt[1], "disable_apparmor"]).as_bool(),
            Some(true)
        );
        assert_eq!(
            get(
                &t,
                &[
                    rt[0],
                    rt[1],
                    "containerd",
                    "runtimes",
                    "runc",
                    "options",
                    "SystemdCgroup"
                ]
            )
            .as_bool(),
            Some(false)
        );
        assert_eq!(
            get(
                &t,
                &["plugins", "io.containerd.cri.v1.images", "snapshotter"]
            )
            .as_str(),
            Some("fuse-overlayfs")
        );
        assert_eq!(
            get(
                &t,
                &[
                    "plugins",
                    "io.containerd.cri.v1.images",
                    "pinned_images",
                    "sandbox"
                ]
            )
            .as_str(),
            Some(SANDBOX_IMAGE)
        );
        assert!(
            get(&t, &[rt[0], rt[1]]).get("disable_cgroup").is_none(),
            "removed in 2.x"
        );
        assert_eq!(
            get(&t, &["proxy_plugins", "fuse-overlayfs", "address"]).as_str(),
            Some("/run/user/1000/usernetes/containerd/fuse-overlayfs.sock")
        );
    }

    #[test]
    fn without_writable_cgroups_runc_is_reached_through_the_wrapper() {
        let mut c = cfg(Cri::Containerd, false);
        c.session.kube = true;
        let f = Facts {
            storage: Storage::Overlay,
            containerd_major: 2,
            cgroup2: false,
            etcd_version: None,
        };
        let mut p = Plan::default();
        add(&mut p, &c, &f, &find_all, false).unwrap();
        let wrapper = crate::host::cgroups::wrapper_path(&c.paths);
        let (_, script, mode) = p.files.iter().find(|(f, _, _)| *f == wrapper).unwrap();
        assert_eq!(*mode, 0o700);
        assert!(
            script.contains("'/rel/bin/u7s' __oci-runtime --runc '/rel/bin/runc'"),
            "{script}"
        );
        let (_, text, _) = p
            .files
            .iter()
            .find(|(f, _, _)| *f == c.paths.containerd_config())
            .unwrap();
        let t = parsed(text);
        let runc = [
            "plugins",
            "io.containerd.cri.v1.runtime",
            "containerd",
            "runtimes",
            "runc",
            "options",
        ];
        let opts = get(&t, &runc);
        assert_eq!(opts["BinaryName"].as_str(), Some(wrapper.to_str().unwrap()));
        // The pause image job: after containerd, importing into the snapshotter in use.
        let job = &p.jobs[0];
        assert_eq!(job.name, crate::process::images::JOB);
        assert_eq!(job.after, ["containerd"]);
        assert_eq!(job.args[0], "__import-images");
        assert!(job.args.contains(&"--snapshotter=overlayfs".to_string()));
        // Delegated cgroup v2: runc itself, limits applied.
        let mut p = Plan::default();
        let f = Facts { cgroup2: true, ..f };
        add(&mut p, &c, &f, &find_all, false).unwrap();
        assert!(p.files.iter().all(|(f, _, _)| *f != wrapper));
        assert!(!p.files.iter().any(|(_, t, _)| t.contains("BinaryName")));
    }

    #[test]
    fn kubernetes_needs_the_pause_binary_a_cri_session_only_notes_it() {
        let no_pause = |n: &str| (n != "pause").then(|| find_all(n)).flatten();
        let f = Facts {
            storage: Storage::Overlay,
            containerd_major: 2,
            cgroup2: false,
            etcd_version: None,
        };
        let mut c = cfg(Cri::Containerd, false);
        let mut p = Plan::default();
        add(&mut p, &c, &f, &no_pause, false).unwrap();
        assert!(p.jobs.is_empty());
        assert!(p.notes[0].contains("bin/pause"), "{:?}", p.notes);
        c.session.kube = true;
        let e = add(&mut Plan::default(), &c, &f, &no_pause, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pause") && e.contains("sandbox image"), "{e}");
    }

    #[test]
    fn dockers_containerd_has_no_cri() {
        let c = cfg(Cri::Docker, false);
        let t = parsed(&config(
            &c.paths,
            "overlayfs",
            Flavor {
                for_docker: true,
                ..fl(1, false, false)
            },
        ));
        assert_eq!(t["disabled_plugins"][0].as_str(), Some(CRI_PLUGIN));
        assert_eq!(t["disabled_plugins"].as_array().unwrap().len(), 1);
        let t = parsed(&config(
            &c.paths,
            "overlayfs",
            Flavor {
                for_docker: true,
                ..fl(2, false, false)
            },
        ));
        let off: Vec<&str> = t["disabled_plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(off.contains(&"io.containerd.cri.v1.runtime") && off.contains(&CRI_PLUGIN));
    }

    #[test]
    fn fuse_storage_runs_the_plugin_first_or_falls_back_to_native() {
        let c = cfg(Cri::Containerd, false);
        let f = Facts {
            storage: Storage::FuseOverlayfs,
            containerd_major: 1,
            cgroup2: false,
            etcd_version: None,
        };
        let mut p = Plan::default();
        add(&mut p, &c, &f, &find_all, false).unwrap();
        assert_eq!(p.components[0].name, "fuse-overlayfs-grpc");
        assert_eq!(p.components[1].after, ["fuse-overlayfs-grpc"]);
        assert!(p.files[0].1.contains("fuse-overlayfs"));
        let no_plugin = |n: &str| {
            (n != "containerd-fuse-overlayfs-grpc")
                .then(|| find_all(n))
                .flatten()
        };
        let mut p = Plan::default();
        add(&mut p, &c, &f, &no_plugin, false).unwrap();
        assert_eq!(p.components.len(), 1);
        assert!(
            p.files[0].1.contains("snapshotter = \"native\""),
            "{}",
            p.files[0].1
        );
    }

    #[test]
    fn the_snapshotter_is_read_back_from_either_layout() {
        let paths = &cfg(Cri::Containerd, false).paths;
        for major in [1, 2] {
            let text = config(paths, "native", fl(major, false, false));
            assert_eq!(snapshotter_of(&text), "native", "{text}");
        }
        assert_eq!(snapshotter_of(""), "overlayfs");
    }

    #[test]
    fn imports_unpack_into_the_snapshotter_in_use() {
        // containerd 2's transfer service (`ctr images import`) unpacks only into the
        // snapshotters of its unpack_config: the one the session uses is listed.
        for snapshotter in ["native", "overlayfs", "fuse-overlayfs"] {
            let text = config(
                &cfg(Cri::Containerd, false).paths,
                snapshotter,
                fl(2, false, false),
            );
            let t: toml::Table = toml::from_str(&text).unwrap();
            let unpack = &t["plugins"]["io.containerd.transfer.v1.local"]["unpack_config"][0];
            assert_eq!(unpack["snapshotter"].as_str(), Some(snapshotter), "{text}");
            assert_eq!(unpack["platform"].as_str(), Some("linux/amd64"), "{text}");
        }
    }
}
