//! The supervisor's state machine on the scripted [`Fake`] host: start order by readiness,
//! crashes during the start, the readiness timeout, giving up, restarts after readiness, one-shot
//! jobs (order, retries, markers), RootlessKit's API, the stop in reverse order, the watch of a
//! ready daemon's socket (restarted when it stops answering), files written on readiness and the
//! log lines repeated when a component fails. Virtual
//! time: each case runs in milliseconds, and nothing here depends on the machine's speed.

use super::fake::{Behaviour, Event, Fake, LIMIT, StopWhen, exits, hangs, ready};
use super::{
    JOB_MAX_ATTEMPTS, LIVENESS_FAILURES, LIVENESS_INTERVAL, MAX_FAILURES, START_TIMEOUT,
    Supervisor, backoff,
};
use crate::components::{ComponentSpec, Job, Plan, Probe};
use crate::host::binaries::Bins;
use crate::session::config::{ChildConfig, Cri, KubeSettings, SessionConfig};
use crate::session::paths::Paths;
use crate::session::status::{ComponentStatus, State, SupervisorStatus};
use std::path::PathBuf;
use std::time::Duration;

fn cfg() -> ChildConfig {
    let paths = Paths {
        home: "/home/u".into(),
        runtime_dir: "/run/user/1000".into(),
        state: "/run/user/1000/usernetes".into(),
        data: "/home/u/.local/share/usernetes".into(),
        config: "/home/u/.config/usernetes".into(),
    };
    ChildConfig {
        session: SessionConfig {
            cri: Cri::Docker,
            kube: false,
            etcd: false,
            publish: vec![],
            cidr: crate::rootlesskit::flags::DEFAULT_CIDR.into(),
            rootlesskit_flags: vec![],
            k8s: KubeSettings::default(),
        },
        paths,
        bins: Bins {
            release_bin: None,
            path: vec![],
        },
        session_id: "s1".into(),
        leader_pid: 1,
        started_at: 1_000_000.0,
        cgroup2: false,
    }
}

fn comp(name: &str, after: &[&str]) -> ComponentSpec {
    ComponentSpec {
        name: name.into(),
        program: format!("/bin/{name}").into(),
        args: vec![],
        env: vec![],
        after: after.iter().map(|s| s.to_string()).collect(),
        probe: Probe::FileExists {
            path: format!("/ready/{name}").into(),
        },
        endpoint: format!("{name}.sock"),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![],
    }
}

/// A daemon serving on a socket (`/run/NAME.sock`, a gRPC probe): watched once ready.
fn daemon(name: &str, after: &[&str]) -> ComponentSpec {
    ComponentSpec {
        probe: Probe::Grpc {
            socket: format!("/run/{name}.sock").into(),
        },
        ..comp(name, after)
    }
}

/// Ready at once, then its socket stops answering `secs` seconds after the start.
fn goes_silent(secs: u64) -> Behaviour {
    Behaviour {
        unanswering_after: Some(Duration::from_secs(secs)),
        ..ready(0)
    }
}

fn job(name: &str, after: &[&str], marker: Option<&str>) -> Job {
    Job {
        name: name.into(),
        program: format!("/bin/{name}").into(),
        args: vec![],
        env: vec![],
        after: after.iter().map(|s| s.to_string()).collect(),
        once_marker: marker.map(PathBuf::from),
    }
}

fn plan(components: Vec<ComponentSpec>, jobs: Vec<Job>) -> Plan {
    Plan {
        components,
        jobs,
        ..Plan::default()
    }
}

/// Stops once every component is ready and every job has settled.
fn when_settled() -> StopWhen {
    Box::new(|st: &SupervisorStatus, _| {
        st.state == State::Ready
            && st.components.iter().all(|c| {
                if c.endpoint == "one-shot job" {
                    matches!(c.state, State::Stopped | State::Failed)
                } else {
                    c.state == State::Ready
                }
            })
    })
}

/// Stops at virtual time `at`.
fn at(at: Duration) -> StopWhen {
    Box::new(move |_, t| t >= at)
}

fn run(fake: Fake, p: Plan) -> (i32, Fake) {
    let (code, fake) = Supervisor::with_host(fake, cfg(), p, "overlay").run_to_end();
    assert!(
        fake.t < LIMIT,
        "safety net: never stopped; said {:#?}",
        fake.said
    );
    (code, fake)
}

fn status<'a>(st: &'a SupervisorStatus, name: &str) -> &'a ComponentStatus {
    st.components.iter().find(|c| c.name == name).unwrap()
}

/// The last status written before the stop began.
fn before_stop(fake: &Fake) -> &SupervisorStatus {
    fake.statuses
        .iter()
        .rev()
        .find(|s| !matches!(s.state, State::Stopping | State::Stopped))
        .unwrap()
}

fn term(e: &Event) -> Option<&str> {
    match e {
        Event::Term(n) => Some(n),
        _ => None,
    }
}

fn spawned(e: &Event) -> Option<&str> {
    match e {
        Event::Spawned(n) => Some(n),
        _ => None,
    }
}

#[test]
fn a_component_starts_only_once_its_dependencies_are_ready() {
    let fake = Fake::new(
        &[
            ("a", vec![ready(300)]),
            ("b", vec![ready(50)]),
            ("c", vec![ready(10)]),
        ],
        when_settled(),
    );
    let (code, fake) = run(
        fake,
        plan(
            vec![comp("a", &[]), comp("b", &[]), comp("c", &["a", "b"])],
            vec![],
        ),
    );
    assert_eq!(code, 0);
    // a and b start at once; c only after the slower of the two answered its probe.
    assert_eq!(fake.starts("a"), fake.starts("b"));
    let c = fake.starts("c")[0];
    assert!(c >= Duration::from_millis(300), "{c:?}");
    let st = before_stop(&fake);
    assert!(status(st, "c").started_at.unwrap() >= status(st, "a").ready_at.unwrap());
    assert_eq!(st.state, State::Ready);
    assert_eq!(
        fake.notified
            .iter()
            .filter(|m| m.starts_with("READY=1"))
            .count(),
        1,
        "{:?}",
        fake.notified
    );
    assert!(
        fake.said
            .iter()
            .any(|l| l.starts_with("session ready: a, b, c"))
    );
    assert_eq!(fake.last().state, State::Stopped);
}

#[test]
fn the_session_is_not_ready_before_rootlesskit_answers() {
    let mut fake = Fake::new(&[("a", vec![ready(0)])], when_settled());
    fake.rootlesskit_after = Duration::from_secs(2);
    let (_, fake) = run(fake, plan(vec![comp("a", &[])], vec![]));
    let st = before_stop(&fake);
    assert_eq!(st.rootlesskit_version.as_deref(), Some("3.1.0"));
    assert!(st.ready_at.unwrap() >= 1_000_002.0, "{st:?}");
    assert!(
        fake.statuses
            .iter()
            .any(|s| s.state == State::Starting && status(s, "a").state == State::Ready)
    );
}

#[test]
fn a_crash_during_the_start_is_restarted_after_the_backoff() {
    let fake = Fake::new(
        &[
            ("a", vec![exits(100, 3), exits(100, 3), ready(20)]),
            ("b", vec![ready(0)]),
        ],
        when_settled(),
    );
    let (code, fake) = run(fake, plan(vec![comp("a", &[]), comp("b", &["a"])], vec![]));
    assert_eq!(code, 0);
    let s = fake.starts("a");
    assert_eq!(s.len(), 3);
    assert!(
        s[1] - s[0] >= Duration::from_millis(100) + backoff(1),
        "{s:?}"
    );
    assert!(
        s[2] - s[1] >= Duration::from_millis(100) + backoff(2),
        "{s:?}"
    );
    // The dependent waited for the third start to be ready.
    assert!(fake.starts("b")[0] >= s[2]);
    let a = status(before_stop(&fake), "a").clone();
    assert_eq!(a.restarts, 2);
    assert_eq!(a.last_exit.as_deref(), Some("exit status 3"));
    assert_eq!(a.state, State::Ready);
    // The restarts were visible in the status while they happened.
    assert!(
        fake.statuses
            .iter()
            .any(|s| status(s, "a").state == State::Restarting)
    );
}

#[test]
fn repeated_failures_without_readiness_fail_the_session_and_stop_the_rest() {
    let fake = Fake::new(
        &[
            ("a", vec![ready(0)]),
            ("b", vec![exits(10, 1)]),
            ("c", vec![ready(0)]),
        ],
        at(LIMIT),
    );
    let (code, fake) = run(
        fake,
        plan(
            vec![comp("a", &[]), comp("b", &["a"]), comp("c", &["b"])],
            vec![],
        ),
    );
    assert_eq!(code, 1);
    assert_eq!(fake.starts("b").len() as u32, MAX_FAILURES);
    assert!(fake.starts("c").is_empty(), "c waits on b forever");
    let last = fake.last();
    assert_eq!(last.state, State::Failed);
    let err = last.error.as_deref().unwrap();
    // The detail is the last probe error when there is one, else how it exited.
    assert!(
        err.starts_with("b failed (connection refused); see `u7s logs b`"),
        "{err}"
    );
    assert_eq!(
        status(last, "b").last_exit.as_deref(),
        Some("exit status 1")
    );
    assert_eq!(status(last, "b").state, State::Failed);
    assert_eq!(status(last, "a").state, State::Stopped);
    assert_eq!(fake.names(term), ["a"]);
}

#[test]
fn failures_after_readiness_do_not_count_towards_giving_up() {
    // Ready, then dies: over and over, more often than MAX_FAILURES.
    let crash_after_ready = Behaviour {
        ready_after: Some(Duration::from_millis(10)),
        exits_after: Some((Duration::from_millis(500), 1)),
        ..Behaviour::default()
    };
    let n = MAX_FAILURES as usize + 2;
    let mut script = vec![crash_after_ready; n];
    script.push(ready(10));
    let fake = Fake::new(
        &[("a", script)],
        Box::new(move |st, _| status(st, "a").restarts as usize == n && st.state == State::Ready),
    );
    let (code, fake) = run(fake, plan(vec![comp("a", &[])], vec![]));
    assert_eq!(code, 0);
    assert_eq!(fake.starts("a").len(), n + 1);
    // Each restart waited the first backoff only: the count started again after readiness.
    let s = fake.starts("a");
    for w in s.windows(2).take(n) {
        assert!(
            w[1] - w[0] < Duration::from_millis(500) + backoff(2),
            "{s:?}"
        );
    }
    // Once ready, a crash shows the session as restarting, then ready again.
    let states: Vec<State> = fake.statuses.iter().map(|s| s.state).collect();
    let first_ready = states.iter().position(|s| *s == State::Ready).unwrap();
    assert!(
        states[first_ready..].contains(&State::Restarting),
        "{states:?}"
    );
}

#[test]
fn a_component_not_ready_in_time_is_killed_and_restarted() {
    let fake = Fake::new(&[("a", vec![hangs(), ready(10)])], when_settled());
    let (code, fake) = run(fake, plan(vec![comp("a", &[])], vec![]));
    assert_eq!(code, 0);
    let ev = fake.of("a");
    let killed = ev
        .iter()
        .find(|(_, e)| matches!(e, Event::KillGroup(_)))
        .unwrap()
        .0;
    assert!(
        killed > START_TIMEOUT && killed < START_TIMEOUT + Duration::from_secs(1),
        "{killed:?}"
    );
    assert_eq!(fake.starts("a").len(), 2);
    let a = status(before_stop(&fake), "a");
    assert_eq!(
        (a.restarts, a.last_exit.as_deref()),
        (1, Some("killed by signal SIGKILL"))
    );
    assert!(
        fake.said
            .iter()
            .any(|l| l.starts_with("a not ready after 120s (connection refused)"))
    );
}

#[test]
fn a_program_that_cannot_start_fails_the_session() {
    let missing = Behaviour {
        fails_to_start: true,
        ..Behaviour::default()
    };
    let fake = Fake::new(&[("a", vec![ready(0)]), ("b", vec![missing])], at(LIMIT));
    let (code, fake) = run(fake, plan(vec![comp("a", &[]), comp("b", &["a"])], vec![]));
    assert_eq!(code, 1);
    let err = fake.last().error.clone().unwrap();
    assert!(
        err.contains("cannot start /bin/b: No such file or directory"),
        "{err}"
    );
}

#[test]
fn stale_files_are_removed_before_every_start() {
    let mut fake = Fake::new(&[("a", vec![exits(10, 1), ready(0)])], when_settled());
    fake.files.insert("/run/a.pid".into());
    let mut a = comp("a", &[]);
    a.remove_before_start = vec!["/run/a.pid".into()];
    let (_, fake) = run(fake, plan(vec![a], vec![]));
    assert_eq!(
        fake.removed,
        [PathBuf::from("/run/a.pid"), PathBuf::from("/run/a.pid")]
    );
    assert!(fake.files.is_empty());
}

#[test]
fn the_stop_goes_in_reverse_order_and_kills_what_ignores_sigterm() {
    let stubborn = Behaviour {
        ignores_term: true,
        ..ready(0)
    };
    let fake = Fake::new(
        &[
            ("a", vec![ready(0)]),
            ("b", vec![stubborn]),
            ("c", vec![ready(0)]),
        ],
        when_settled(),
    );
    let (code, fake) = run(
        fake,
        plan(
            vec![comp("a", &[]), comp("b", &["a"]), comp("c", &["b"])],
            vec![],
        ),
    );
    assert_eq!(code, 0);
    assert_eq!(fake.names(term), ["c", "b", "a"]);
    // b got its stop timeout, then SIGKILL of its group; a was asked only after that.
    let b = fake.of("b");
    let t_term = b
        .iter()
        .find(|(_, e)| matches!(e, Event::Term(_)))
        .unwrap()
        .0;
    let t_kill = b
        .iter()
        .find(|(_, e)| matches!(e, Event::KillGroup(_)))
        .unwrap()
        .0;
    assert!(t_kill - t_term >= Duration::from_secs(10), "{b:?}");
    let t_a = fake
        .of("a")
        .iter()
        .find(|(_, e)| matches!(e, Event::Term(_)))
        .unwrap()
        .0;
    assert!(t_a >= t_kill);
    assert!(
        fake.said
            .iter()
            .any(|l| l == "b did not stop within 10s; killing it")
    );
    let last = fake.last();
    assert_eq!(last.state, State::Stopped);
    assert!(
        last.components.iter().all(|c| c.state == State::Stopped),
        "{last:#?}"
    );
    assert_eq!(
        status(last, "b").last_exit.as_deref(),
        Some("killed by signal SIGKILL")
    );
    assert_eq!(
        status(last, "a").last_exit.as_deref(),
        Some("exit status 0")
    );
    assert_eq!(fake.notified.last().map(String::as_str), Some("STOPPING=1"));
}

#[test]
fn a_job_runs_once_after_its_dependencies_and_writes_its_marker() {
    let fake = Fake::new(
        &[
            ("a", vec![ready(200)]),
            ("j1", vec![exits(50, 0)]),
            ("j2", vec![exits(10, 0)]),
        ],
        when_settled(),
    );
    let p = plan(
        vec![comp("a", &[])],
        vec![job("j1", &["a"], Some("/m/j1")), job("j2", &["j1"], None)],
    );
    let (code, fake) = run(fake, p);
    assert_eq!(code, 0);
    assert_eq!(fake.names(spawned), ["a", "j1", "j2"]);
    assert!(fake.starts("j1")[0] >= Duration::from_millis(200));
    // A job waiting on a job waits for its success.
    assert!(fake.starts("j2")[0] >= fake.starts("j1")[0] + Duration::from_millis(50));
    assert!(fake.files.contains(&PathBuf::from("/m/j1")));
    let st = before_stop(&fake);
    let j1 = status(st, "j1");
    assert_eq!(
        (j1.state, j1.last_exit.as_deref()),
        (State::Stopped, Some("exit status 0"))
    );
    assert_eq!(j1.restarts, 0);
    assert!(fake.said.iter().any(|l| l == "j1 done"));
}

#[test]
fn a_job_whose_marker_exists_is_skipped() {
    let mut fake = Fake::new(
        &[("a", vec![ready(0)]), ("j", vec![exits(0, 0)])],
        when_settled(),
    );
    fake.files.insert("/m/j".into());
    let (_, fake) = run(
        fake,
        plan(vec![comp("a", &[])], vec![job("j", &["a"], Some("/m/j"))]),
    );
    assert!(fake.starts("j").is_empty());
    let j = status(before_stop(&fake), "j");
    assert_eq!(j.state, State::Stopped);
    assert_eq!(j.last_exit.as_deref(), Some("skipped: done before (/m/j)"));
}

#[test]
fn a_failing_job_is_retried_with_backoff_then_reported_without_failing_the_session() {
    let fake = Fake::new(
        &[("a", vec![ready(0)]), ("j", vec![exits(10, 7)])],
        when_settled(),
    );
    let (code, fake) = run(
        fake,
        plan(vec![comp("a", &[])], vec![job("j", &["a"], Some("/m/j"))]),
    );
    assert_eq!(code, 0);
    let s = fake.starts("j");
    assert_eq!(s.len() as u32, JOB_MAX_ATTEMPTS);
    for (i, w) in s.windows(2).enumerate() {
        assert!(
            w[1] - w[0] >= Duration::from_millis(10) + backoff(i as u32 + 1),
            "{s:?}"
        );
    }
    let st = before_stop(&fake);
    let j = status(st, "j");
    assert_eq!(
        (j.state, j.last_exit.as_deref()),
        (State::Failed, Some("exit status 7"))
    );
    assert_eq!(j.restarts, JOB_MAX_ATTEMPTS - 1);
    assert!(st.error.is_none());
    assert_eq!(st.state, State::Ready);
    assert!(!fake.files.contains(&PathBuf::from("/m/j")));
    assert_eq!(fake.last().state, State::Stopped);
}

#[test]
fn a_job_succeeding_on_a_retry_is_done() {
    let fake = Fake::new(
        &[
            ("a", vec![ready(0)]),
            ("j", vec![exits(10, 1), exits(10, 0)]),
        ],
        when_settled(),
    );
    let (_, fake) = run(
        fake,
        plan(vec![comp("a", &[])], vec![job("j", &["a"], None)]),
    );
    let j = status(before_stop(&fake), "j");
    assert_eq!((j.state, j.restarts), (State::Stopped, 1));
    assert!(
        fake.said
            .iter()
            .any(|l| l.starts_with("j exit status 1; retrying in 0.25s"))
    );
}

#[test]
fn a_running_job_is_killed_first_at_the_stop() {
    let fake = Fake::new(
        &[("a", vec![ready(0)]), ("j", vec![hangs()])],
        at(Duration::from_secs(1)),
    );
    let (code, fake) = run(
        fake,
        plan(vec![comp("a", &[])], vec![job("j", &["a"], None)]),
    );
    assert_eq!(code, 0);
    let order: Vec<&Event> = fake
        .events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::Term(_) | Event::KillGroup(_)))
        .collect();
    assert_eq!(order[0], &Event::KillGroup("j".into()));
    assert_eq!(order[1], &Event::Term("a".into()));
    let j = status(fake.last(), "j");
    assert_eq!(
        (j.state, j.last_exit.as_deref()),
        (State::Waiting, Some("killed by signal SIGKILL"))
    );
}

#[test]
fn a_daemon_whose_socket_stops_answering_is_restarted_and_its_clients_are_left_alone() {
    let fake = Fake::new(
        &[
            ("cri", vec![goes_silent(5), ready(10)]),
            ("kubelet", vec![ready(0)]),
        ],
        Box::new(|st, _| status(st, "cri").restarts == 1 && st.state == State::Ready),
    );
    let (code, fake) = run(
        fake,
        plan(vec![daemon("cri", &[]), comp("kubelet", &["cri"])], vec![]),
    );
    assert_eq!(code, 0);
    let s = fake.starts("cri");
    assert_eq!(s.len(), 2, "{:#?}", fake.said);
    // Not before LIVENESS_FAILURES probes failed, and soon after.
    let noticed = Duration::from_secs(5) + LIVENESS_INTERVAL * (LIVENESS_FAILURES - 1);
    assert!(s[1] - s[0] >= noticed, "{s:?}");
    assert!(
        s[1] - s[0] <= noticed + LIVENESS_INTERVAL + backoff(1) + Duration::from_millis(50),
        "{s:?}"
    );
    // SIGTERM first (no SIGKILL: it stopped on it), then the restart; the kubelet stayed.
    let ev: Vec<Event> = fake.of("cri").into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        ev[..4],
        [
            Event::Spawned("cri".into()),
            Event::Term("cri".into()),
            Event::Exited("cri".into()),
            Event::Spawned("cri".into())
        ],
        "{ev:?}"
    );
    assert_eq!(fake.starts("kubelet").len(), 1);
    assert!(
        fake.of("kubelet")
            .iter()
            .all(|(t, e)| !matches!(e, Event::Term(_)) || *t > s[1]),
        "the kubelet is stopped only at the end"
    );
    // Logged with the reason, shown in the status while it happened, cleared once ready.
    assert!(
        fake.said.iter().any(|l| l.starts_with(&format!(
            "cri: socket /run/cri.sock did not answer {LIVENESS_FAILURES} probes in a row \
             (cri.sock: No such file or directory) while its process"
        )) && l.contains("restarting it (log: ")),
        "{:#?}",
        fake.said
    );
    let shown: Vec<(State, String)> = fake
        .statuses
        .iter()
        .filter_map(|st| {
            let c = status(st, "cri");
            c.health.clone().map(|h| (c.state, h))
        })
        .collect();
    assert!(
        shown.iter().any(|(st, h)| *st == State::Ready
            && h.contains("does not answer")
            && h.contains(&format!("1 of {LIVENESS_FAILURES} probes failed"))),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|(st, h)| *st == State::Restarting
            && h == "socket /run/cri.sock does not answer (cri.sock: No such file or directory): restarting"),
        "{shown:#?}"
    );
    assert!(
        fake.statuses
            .iter()
            .any(|st| st.state == State::Restarting && st.ready_at.is_some()),
        "the session shows the restart"
    );
    let cri = status(before_stop(&fake), "cri");
    assert_eq!((cri.state, cri.health.as_deref()), (State::Ready, None));
    assert_eq!(
        cri.last_exit.as_deref(),
        Some("exit status 0, restarted as its socket did not answer")
    );
}

#[test]
fn a_hung_daemon_that_ignores_sigterm_is_killed_after_its_stop_timeout() {
    let hung = Behaviour {
        ignores_term: true,
        ..goes_silent(1)
    };
    let fake = Fake::new(
        &[("cri", vec![hung, ready(0)])],
        Box::new(|st, _| status(st, "cri").restarts == 1 && st.state == State::Ready),
    );
    let (code, fake) = run(fake, plan(vec![daemon("cri", &[])], vec![]));
    assert_eq!(code, 0);
    let ev = fake.of("cri");
    let t_term = ev
        .iter()
        .find(|(_, e)| matches!(e, Event::Term(_)))
        .unwrap()
        .0;
    let t_kill = ev
        .iter()
        .find(|(_, e)| matches!(e, Event::KillGroup(_)))
        .unwrap()
        .0;
    assert!(t_kill - t_term >= Duration::from_secs(10), "{ev:?}");
    assert!(t_kill - t_term < Duration::from_secs(11), "{ev:?}");
    assert!(
        fake.said
            .iter()
            .any(|l| l == "cri did not stop within 10s; killing it")
    );
    assert_eq!(
        status(before_stop(&fake), "cri").last_exit.as_deref(),
        Some("killed by signal SIGKILL, restarted as its socket did not answer")
    );
}

#[test]
fn a_socket_silent_for_fewer_probes_than_the_limit_is_not_restarted() {
    let blip = Behaviour {
        answers_again_after: Some(Duration::from_secs(2) + LIVENESS_INTERVAL),
        ..goes_silent(2)
    };
    let fake = Fake::new(&[("cri", vec![blip])], at(Duration::from_secs(30)));
    let (code, fake) = run(fake, plan(vec![daemon("cri", &[])], vec![]));
    assert_eq!(code, 0);
    assert_eq!(fake.starts("cri").len(), 1);
    assert!(
        fake.statuses
            .iter()
            .any(|st| status(st, "cri").health.is_some()),
        "the unanswered probe was shown"
    );
    assert!(
        fake.said
            .iter()
            .any(|l| l == "cri: /run/cri.sock answers again")
    );
    let cri = status(before_stop(&fake), "cri");
    assert_eq!((cri.state, cri.health.as_deref()), (State::Ready, None));
}

#[test]
fn only_daemons_serving_a_socket_are_watched() {
    // A file probe (flannel's subnet.env) is not asked again once ready.
    let fake = Fake::new(&[("a", vec![goes_silent(1)])], at(Duration::from_secs(30)));
    let (_, fake) = run(fake, plan(vec![comp("a", &[])], vec![]));
    assert_eq!(fake.starts("a").len(), 1);
    assert!(
        fake.statuses
            .iter()
            .all(|st| status(st, "a").health.is_none())
    );
}

#[test]
fn a_daemon_that_does_not_come_back_fails_the_session_naming_it() {
    let fake = Fake::new(&[("cri", vec![goes_silent(1), exits(10, 1)])], at(LIMIT));
    let (code, fake) = run(fake, plan(vec![daemon("cri", &[])], vec![]));
    assert_eq!(code, 1);
    // The silent run counts as the first failure, then MAX_FAILURES - 1 crashes.
    assert_eq!(fake.starts("cri").len() as u32, MAX_FAILURES);
    let err = fake.last().error.clone().unwrap();
    assert!(err.starts_with("cri failed ("), "{err}");
    assert!(err.contains("see `u7s logs cri`"), "{err}");
}

#[test]
fn a_component_that_fails_says_the_last_lines_of_its_log() {
    let mut fake = Fake::new(&[("etcd", vec![exits(10, 1)])], at(LIMIT));
    let lines: Vec<String> = (1..=40).map(|i| format!("line {i}")).collect();
    fake.logs.insert(cfg().paths.log("etcd"), lines);
    let (code, fake) = run(fake, plan(vec![comp("etcd", &[])], vec![]));
    assert_eq!(code, 1);
    let said = fake
        .said
        .iter()
        .find(|l| l.starts_with("last lines of etcd ("))
        .unwrap_or_else(|| panic!("{:#?}", fake.said));
    assert!(said.ends_with("line 26\n  line 27\n  line 28\n  line 29\n  line 30\n  line 31\n  line 32\n  line 33\n  line 34\n  line 35\n  line 36\n  line 37\n  line 38\n  line 39\n  line 40"), "{said}");
    assert!(!said.contains("line 25\n"), "{said}");
}

#[test]
fn files_of_a_component_are_written_each_time_it_becomes_ready() {
    let mut p = plan(vec![comp("etcd", &[])], vec![]);
    p.on_ready = vec![("etcd".into(), "/d/etcd.version".into(), "3.5.16\n".into())];
    let fake = Fake::new(&[("etcd", vec![hangs(), ready(10)])], when_settled());
    let (code, fake) = run(fake, p);
    assert_eq!(code, 0);
    // Not while the first start hung (never ready); once the second one was.
    assert_eq!(
        fake.written
            .get(&PathBuf::from("/d/etcd.version"))
            .map(String::as_str),
        Some("3.5.16\n")
    );
    let first_ready = fake
        .statuses
        .iter()
        .position(|s| status(s, "etcd").state == State::Ready)
        .unwrap();
    assert!(fake.starts("etcd").len() == 2 && first_ready > 0);
}
