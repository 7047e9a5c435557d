//! What the user sees while a build runs: on a terminal, indicatif spinners per component stage
//! and byte bars for downloads; elsewhere (CI logs, pipes) plain lines, one per event. No
//! colours are used, so `NO_COLOR` is honoured by construction; `--quiet` keeps only errors.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shared reporter; cheap to clone, usable from every worker thread.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    quiet: bool,
}

impl Progress {
    /// Bars when stderr is a terminal (and `TERM` is not `dumb`), plain lines otherwise.
    pub fn detect(quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal()
            && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true);
        Progress {
            multi: (tty && !quiet)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            quiet,
        }
    }

    /// Plain lines regardless of the terminal.
    pub fn plain(quiet: bool) -> Progress {
        Progress { multi: None, quiet }
    }

    /// A one-off line about a component (or the run when `component` is empty).
    pub fn log(&self, component: &str, msg: &str) {
        if self.quiet {
            return;
        }
        let line = if component.is_empty() {
            format!("u7s-build: {msg}")
        } else {
            format!("u7s-build: [{component}] {msg}")
        };
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A running step of a component (`fetch`, `patch`, `build`...), shown as a spinner.
    pub fn task(&self, component: &str, stage: &str, detail: &str) -> Task {
        self.log_plain_only(component, &format!("{stage}: {detail}"));
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<24} {wide_msg} {elapsed:>4}")
                    .expect("valid template"),
            );
            b.set_prefix(if component.is_empty() {
                stage.to_string()
            } else {
                format!("{component} {stage}")
            });
            b.set_message(detail.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Task {
            bar,
            progress: self.clone(),
            component: component.to_string(),
            stage: stage.to_string(),
        }
    }

    /// A download of `total` bytes (when known); `done` bytes were already there (resume).
    pub fn bytes(&self, component: &str, what: &str, total: Option<u64>, done: u64) -> Bytes {
        self.log_plain_only(
            component,
            &match (total, done) {
                (Some(t), 0) => format!("download {what} ({t} bytes)"),
                (Some(t), d) => format!("download {what} (resuming at {d} of {t} bytes)"),
                (None, _) => format!("download {what}"),
            },
        );
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            });
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix:<24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(format!("{component} download"));
            b.set_position(done);
            b
        });
        Bytes { bar }
    }

    fn log_plain_only(&self, component: &str, msg: &str) {
        if self.multi.is_none() {
            self.log(component, msg);
        }
    }
}

/// A spinner (or nothing, in plain mode) for one step.
pub struct Task {
    bar: Option<ProgressBar>,
    progress: Progress,
    component: String,
    stage: String,
}

impl Task {
    /// Updates the detail text (terminal only).
    pub fn set_message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    /// Ends the step with a summary line, e.g. `done (cached)`.
    pub fn finish(self, msg: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.progress
            .log(&self.component, &format!("{}: {msg}", self.stage));
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A byte counter for a download.
pub struct Bytes {
    bar: Option<ProgressBar>,
}

impl Bytes {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn set(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }

    pub fn reset(&self, total: Option<u64>) {
        if let Some(b) = &self.bar {
            b.set_position(0);
            if let Some(t) = total {
                b.set_length(t);
            }
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
