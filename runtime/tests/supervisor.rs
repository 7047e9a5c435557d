//! The supervisor on a plan of real processes: a real etcd with our PKI (client-cert TLS health
//! probe) and small shell programs that become ready late, crash once, record their start and
//! their stop. Checks start order by readiness, that a dependent waits for its dependencies'
//! probes, restart after a crash, a one-shot job that runs once after its dependency and is
//! skipped by its marker on the next run, and stop in reverse order. Timeouts are safety nets
//! only; nothing asserts on speed. Ignored by a plain `cargo test` (it needs etcd); run with
//! `--include-ignored` (scripts/test.sh, CI), it fails when etcd is missing.

use runtime::components::{ComponentSpec, Job, Plan, Probe};
use runtime::host::binaries::Bins;
use runtime::pki::{Leaf, Pki};
use runtime::session::config::{ChildConfig, Cri, KubeSettings, SessionConfig};
use runtime::session::paths::{Env, Paths};
use runtime::session::status::{ComponentStatus, State, SupervisorStatus, read_json};
use runtime::supervisor::Supervisor;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn child_config(root: &Path) -> ChildConfig {
    let env = Env {
        home: Some(root.join("home")),
        xdg_runtime_dir: Some(root.join("run")),
        xdg_data_home: None,
        xdg_config_home: None,
        uid: 0,
    };
    let paths = Paths::resolve(&env, |_| true).unwrap();
    std::fs::create_dir_all(&paths.state).unwrap();
    std::fs::create_dir_all(paths.logs()).unwrap();
    ChildConfig {
        session: SessionConfig {
            cri: Cri::Containerd,
            kube: false,
            etcd: true,
            publish: vec![],
            cidr: "10.0.42.0/24".into(),
            rootlesskit_flags: vec![],
            k8s: KubeSettings::default(),
        },
        paths,
        bins: Bins {
            release_bin: None,
            path: vec!["/usr/bin".into(), "/bin".into()],
        },
        session_id: "test".into(),
        leader_pid: std::process::id() as i32,
        started_at: 0.0,
        cgroup2: false,
    }
}

/// A shell component: runs `body`, then creates its ready file, records its stop on SIGTERM.
fn sh(name: &str, dir: &Path, after: &[&str], body: &str) -> ComponentSpec {
    let ready = dir.join(format!("{name}.ready"));
    let script = format!(
        "trap 'echo {name} >> {stops}; exit 0' TERM\n{body}\ntouch {ready}\nsleep 1000 &\nwait $!\n",
        stops = dir.join("stops").display(),
        ready = ready.display(),
    );
    ComponentSpec {
        name: name.into(),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        env: vec![],
        after: after.iter().map(|s| s.to_string()).collect(),
        probe: Probe::FileExists {
            path: ready.clone(),
        },
        endpoint: String::new(),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![ready],
    }
}

fn plan(cfg: &ChildConfig, dir: &Path, etcd: &Path, ports: (u16, u16)) -> Plan {
    let pki = Pki::new(cfg.paths.pki());
    let client = format!("https://127.0.0.1:{}", ports.0);
    let peer = format!("https://127.0.0.1:{}", ports.1);
    let p = |x: PathBuf| x.display().to_string();
    let etcd = ComponentSpec {
        name: "etcd".into(),
        program: etcd.into(),
        args: vec![
            "--name=u7s".into(),
            format!("--data-dir={}", dir.join("etcd-data").display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=u7s={peer}"),
            format!("--cert-file={}", p(pki.cert(Leaf::EtcdServer))),
            format!("--key-file={}", p(pki.key(Leaf::EtcdServer))),
            format!("--trusted-ca-file={}", p(pki.etcd_ca_cert())),
            "--client-cert-auth".into(),
            format!("--peer-cert-file={}", p(pki.cert(Leaf::EtcdServer))),
            format!("--peer-key-file={}", p(pki.key(Leaf::EtcdServer))),
            format!("--peer-trusted-ca-file={}", p(pki.etcd_ca_cert())),
            "--peer-client-cert-auth".into(),
        ],
        env: vec![],
        after: vec![],
        probe: Probe::EtcdHealth {
            port: ports.0,
            ca: pki.etcd_ca_cert(),
            cert: pki.cert(Leaf::EtcdClient),
            key: pki.key(Leaf::EtcdClient),
        },
        endpoint: client.clone(),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![],
    };
    let d = |n: &str| dir.join(n).display().to_string();
    let mut components = vec![
        etcd,
        // Ready only a while after it starts (the ready file comes late).
        sh("late", dir, &[], "sleep 0.3"),
        // Records whether its dependencies' probes held when it was started.
        sh(
            "dependent",
            dir,
            &["etcd", "late"],
            &format!(
                "if [ -e {late} ]; then echo yes > {seen}; else echo no > {seen}; fi",
                late = d("late.ready"),
                seen = d("dependent.saw-late")
            ),
        ),
        // Crashes on its first start only.
        sh(
            "crashy",
            dir,
            &["dependent"],
            &format!(
                "if [ ! -e {c} ]; then touch {c}; exit 3; fi",
                c = d("crashed-once")
            ),
        ),
    ];
    runtime::components::order(&mut components).unwrap();
    Plan {
        components,
        jobs: vec![Job {
            name: "once".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), format!("echo ran >> {}", d("job-runs"))],
            env: vec![],
            after: vec!["crashy".into()],
            once_marker: Some(dir.join("markers/once")),
        }],
        ..Plan::default()
    }
}

fn status(cfg: &ChildConfig) -> Option<SupervisorStatus> {
    read_json(&cfg.paths.status_file()).ok().flatten()
}

fn comp<'a>(st: &'a SupervisorStatus, name: &str) -> &'a ComponentStatus {
    st.components.iter().find(|c| c.name == name).unwrap()
}

/// Runs the supervisor until every component is ready and the job is no longer pending, then
/// stops it; returns the last status before the stop and the one after.
fn run_once(cfg: &ChildConfig, plan: Plan) -> (SupervisorStatus, SupervisorStatus) {
    let sup = Supervisor::new(cfg.clone(), plan, "test").unwrap();
    let stop = sup.stop_flag();
    let handle = std::thread::spawn(move || sup.run());
    let deadline = Instant::now() + Duration::from_secs(90);
    let settled = loop {
        if let Some(st) = status(cfg) {
            let comps_ready = st
                .components
                .iter()
                .filter(|c| c.name != "once")
                .all(|c| c.state == State::Ready);
            let job_settled = st
                .components
                .iter()
                .any(|c| c.name == "once" && matches!(c.state, State::Stopped | State::Failed));
            if comps_ready && job_settled {
                break st;
            }
            assert!(st.state != State::Failed, "session failed: {:?}", st.error);
        }
        assert!(
            Instant::now() < deadline,
            "safety net: not settled; last status {:#?}",
            status(cfg)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    let code = handle.join().unwrap();
    assert_eq!(code, 0);
    (settled, status(cfg).unwrap())
}

#[test]
#[ignore = "needs etcd (Debian: etcd-server; scripts/ci-setup.sh)"]
fn start_order_restart_jobs_and_stop_order_with_real_processes() {
    let etcd = testkit::program("etcd");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = child_config(tmp.path());
    Pki::new(cfg.paths.pki())
        .ensure(&runtime::pki::PkiSpec::etcd_only())
        .unwrap();
    let dir = tmp.path().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let ports = (free_port(), free_port());

    let (st, after) = run_once(&cfg, plan(&cfg, &dir, &etcd, ports));
    // Start order by readiness: the dependent started after both dependencies were ready.
    let (etcd_s, late, dep, crashy) = (
        comp(&st, "etcd"),
        comp(&st, "late"),
        comp(&st, "dependent"),
        comp(&st, "crashy"),
    );
    assert!(dep.started_at.unwrap() >= etcd_s.ready_at.unwrap());
    assert!(dep.started_at.unwrap() >= late.ready_at.unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join("dependent.saw-late")).unwrap(),
        "yes\n",
        "the dependent saw its dependency's readiness file"
    );
    // The crash: restarted once, then ready.
    assert_eq!(crashy.restarts, 1);
    assert_eq!(crashy.last_exit.as_deref(), Some("exit status 3"));
    assert!(crashy.started_at.unwrap() >= dep.ready_at.unwrap());
    // The job ran once, after its dependency, and left its marker.
    let job = comp(&st, "once");
    assert_eq!(job.state, State::Stopped);
    assert_eq!(job.last_exit.as_deref(), Some("exit status 0"));
    assert!(job.started_at.unwrap() >= crashy.ready_at.unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join("job-runs")).unwrap(),
        "ran\n"
    );
    assert!(dir.join("markers/once").exists());
    // Stopped in reverse order.
    assert_eq!(
        std::fs::read_to_string(dir.join("stops")).unwrap(),
        "crashy\ndependent\nlate\n"
    );
    assert!(
        after
            .components
            .iter()
            .filter(|c| c.name != "once")
            .all(|c| c.state == State::Stopped),
        "{after:#?}"
    );
    assert_eq!(after.state, State::Stopped);

    // A second session: the marker makes the job a no-op; nothing crashes this time.
    std::fs::remove_file(dir.join("stops")).unwrap();
    let (st, _) = run_once(&cfg, plan(&cfg, &dir, &etcd, ports));
    let job = comp(&st, "once");
    assert!(
        job.last_exit
            .as_deref()
            .unwrap_or("")
            .starts_with("skipped"),
        "{job:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("job-runs")).unwrap(),
        "ran\n"
    );
    assert_eq!(comp(&st, "crashy").restarts, 0);
}

#[test]
fn a_failing_job_is_retried_then_reported_without_stopping_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = child_config(tmp.path());
    let dir = tmp.path().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let plan = Plan {
        components: vec![sh("late", &dir, &[], "true")],
        jobs: vec![Job {
            name: "once".into(),
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                format!("echo try >> {}; exit 7", dir.join("tries").display()),
            ],
            env: vec![],
            after: vec!["late".into()],
            once_marker: Some(dir.join("marker")),
        }],
        ..Plan::default()
    };
    let (st, after) = run_once(&cfg, plan);
    let job = comp(&st, "once");
    assert_eq!(job.state, State::Failed);
    assert_eq!(job.last_exit.as_deref(), Some("exit status 7"));
    assert_eq!(
        std::fs::read_to_string(dir.join("tries"))
            .unwrap()
            .lines()
            .count(),
        runtime::supervisor::JOB_MAX_ATTEMPTS as usize
    );
    assert!(!dir.join("marker").exists());
    assert_eq!(comp(&st, "late").state, State::Ready);
    assert!(st.error.is_none(), "a failed job is not a failed session");
    assert_eq!(after.state, State::Stopped);
}
