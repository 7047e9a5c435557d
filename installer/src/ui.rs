//! How the installer talks to people: log lines on stderr (silenced by `-q`, never mixed into
//! `--json` output on stdout), progress bars only when stderr is a terminal, colour only on a
//! terminal without `NO_COLOR` or `TERM=dumb`, errors in the style of every usernetes tool (both
//! from the `term` crate), and yes/no questions only on an interactive terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The name errors and warnings start with.
pub const TOOL: &str = "u7s-install";

/// Output settings for one run.
#[derive(Clone, Debug)]
pub struct Ui {
    pub quiet: bool,
    pub json: bool,
    pub tty: bool,
    pub color: bool,
}

impl Ui {
    /// Settings from the flags and the environment.
    pub fn new(quiet: bool, json: bool) -> Ui {
        let tty = std::io::stderr().is_terminal();
        Ui {
            quiet,
            json,
            tty,
            color: tty && term::color_allowed_here(),
        }
    }

    /// A silent UI (library use, tests).
    pub fn silent() -> Ui {
        Ui {
            quiet: true,
            json: false,
            tty: false,
            color: false,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        term::paint(code, s, self.color)
    }

    /// A progress line (suppressed by `-q`).
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A step done (suppressed by `-q`).
    pub fn ok(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{} {}", self.paint("32", "✓"), msg.as_ref());
        }
    }

    /// A warning: always shown (`u7s-install: warning: …`).
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprint!("{}", term::warning(TOOL, msg.as_ref(), self.color));
    }

    /// An error: always shown, in the style of every usernetes tool (`u7s-install: error: …`,
    /// `  caused by: …`, `  hint: …`).
    pub fn error(&self, report: &term::ErrorReport) {
        eprint!("{}", report.render(TOOL, self.color));
    }

    /// A byte-count progress bar on a terminal; a hidden one otherwise.
    pub fn progress(&self, total: u64, what: &str) -> Progress {
        if !self.tty || self.quiet || self.json {
            self.info(format!("{what}…"));
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// Asks a yes/no question on the terminal; `None` when stdin is not a terminal.
    pub fn confirm(&self, question: &str) -> Option<bool> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok()?;
        Some(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
    }
}

/// A progress handle that may draw nothing; cheap to clone and to share with reader threads.
#[derive(Clone, Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress that draws nothing.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    pub fn set_position(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }
    pub fn set_length(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_length(n);
        }
    }
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Phase timings on stderr when `U7S_TIMINGS` is set (for `scripts/bench-install.sh`):
/// prints the time since the previous lap.
pub fn lap(what: &str) {
    use std::sync::Mutex;
    use std::time::Instant;
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    if std::env::var_os("U7S_TIMINGS").is_none() {
        return;
    }
    let now = Instant::now();
    let mut last = LAST.lock().expect("timing lock");
    if let Some(prev) = *last {
        eprintln!("timing: {what} {:.3} s", (now - prev).as_secs_f64());
    }
    *last = Some(now);
}
