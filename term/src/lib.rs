//! How the four usernetes tools (`u7s`, `u7s-install`, `u7s-doctor`, `u7s-build`) tell people
//! that something failed, in one style:
//!
//! ```text
//! TOOL: error: MESSAGE
//!   caused by: CAUSE        (each cause the message, or a cause before it, does not quote)
//!   hint: HINT              (when there is a fix to suggest)
//! ```
//!
//! warnings as `TOOL: warning: MESSAGE`, and one colour rule: colour only on a terminal, never
//! with `NO_COLOR` set (non-empty) nor with `TERM=dumb`. Usage errors found by clap get the same
//! `TOOL: error:` prefix. The rendering is pure ([`ErrorReport::render`]); printing is the
//! callers'.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether colour may be used, from the values of `NO_COLOR` and `TERM`
/// (<https://no-color.org>: a set, non-empty `NO_COLOR` turns it off; so does `TERM=dumb`).
pub fn color_allowed(no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// [`color_allowed`] from this process's environment.
pub fn color_allowed_here() -> bool {
    color_allowed(
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    )
}

/// Colour on stderr: it is a terminal and [`color_allowed_here`].
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && color_allowed_here()
}

/// `s` in the SGR colour `code` (e.g. `"1;31"`) when `color`, else as it is.
pub fn paint(code: &str, s: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// An error as people see it: its message, the causes worth adding, a hint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorReport {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl ErrorReport {
    /// An error with no cause and no hint.
    pub fn new(message: impl Into<String>) -> ErrorReport {
        ErrorReport {
            message: message.into(),
            ..Default::default()
        }
    }

    /// From the texts of an error chain (the error first, then its sources): a cause that the
    /// message or an earlier cause already quotes is left out (`/x: No such file` is not
    /// followed by `caused by: No such file`).
    pub fn from_chain(chain: impl IntoIterator<Item = String>) -> ErrorReport {
        let mut chain = chain.into_iter();
        let mut report = ErrorReport::new(chain.next().unwrap_or_default());
        for cause in chain {
            let quoted =
                report.message.contains(&cause) || report.causes.iter().any(|c| c.contains(&cause));
            if !quoted && !cause.is_empty() {
                report.causes.push(cause);
            }
        }
        report
    }

    /// From a `std::error::Error` and its sources.
    pub fn from_error(e: &(dyn std::error::Error + 'static)) -> ErrorReport {
        ErrorReport::from_chain(
            std::iter::successors(Some(e), |e| e.source()).map(|e| e.to_string()),
        )
    }

    /// The same, with `hint` (none when `None`).
    pub fn with_hint(mut self, hint: Option<String>) -> ErrorReport {
        self.hint = hint.filter(|h| !h.is_empty());
        self
    }

    /// The message and its causes on one line (`MESSAGE: CAUSE: …`), for JSON documents.
    pub fn one_line(&self) -> String {
        std::iter::once(self.message.as_str())
            .chain(self.causes.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(": ")
    }

    /// The lines people read, each ending in a newline.
    pub fn render(&self, tool: &str, color: bool) -> String {
        let mut out = format!(
            "{} {}\n",
            paint("1;31", &format!("{tool}: error:"), color),
            self.message
        );
        for c in &self.causes {
            out.push_str(&format!("  caused by: {c}\n"));
        }
        if let Some(h) = &self.hint {
            out.push_str(&format!("  {} {h}\n", paint("36", "hint:", color)));
        }
        out
    }

    /// Prints [`render`](Self::render) on stderr, coloured by [`stderr_color`].
    pub fn eprint(&self, tool: &str) {
        eprint!("{}", self.render(tool, stderr_color()));
    }
}

/// `TOOL: warning: MESSAGE` (one line, ending in a newline).
pub fn warning(tool: &str, message: &str, color: bool) -> String {
    format!(
        "{} {message}\n",
        paint("33", &format!("{tool}: warning:"), color)
    )
}

/// clap's rendering of a usage error with `TOOL: error:` in place of its leading `error:`;
/// anything else (the help clap prints when a subcommand is missing) as it is.
pub fn usage_error_text(tool: &str, rendered: &str) -> String {
    match rendered.strip_prefix("error:") {
        Some(rest) => format!("{tool}: error:{rest}"),
        None => rendered.to_string(),
    }
}

/// Exits as clap would for `e`: help and version on stdout (status 0); a usage error on stderr
/// in this crate's style (status 2).
pub fn exit_on_clap_error(tool: &str, e: clap::Error) -> ! {
    if !e.use_stderr()
        || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        e.exit()
    }
    let text = usage_error_text(tool, &e.render().to_string());
    let text = if stderr_color() {
        text.replacen(
            &format!("{tool}: error:"),
            &paint("1;31", &format!("{tool}: error:"), true),
            1,
        )
    } else {
        text
    };
    eprint!("{text}");
    std::process::exit(e.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_a_dumb_terminal_turn_colour_off() {
        assert!(color_allowed(None, Some(OsStr::new("xterm-256color"))));
        assert!(color_allowed(Some(OsStr::new("")), None));
        assert!(!color_allowed(Some(OsStr::new("1")), None));
        assert!(!color_allowed(None, Some(OsStr::new("dumb"))));
        assert!(!color_allowed(
            Some(OsStr::new("1")),
            Some(OsStr::new("dumb"))
        ));
    }

    #[test]
    fn causes_already_quoted_are_left_out() {
        // u7s-build release --recipes /nonexistent used to print the OS error twice.
        let r = ErrorReport::from_chain([
            "/nonexistent: No such file or directory (os error 2)".to_string(),
            "No such file or directory (os error 2)".to_string(),
        ]);
        assert!(r.causes.is_empty(), "{r:?}");
        let r = ErrorReport::from_chain([
            "cannot join".to_string(),
            "/b.tar: no such file".to_string(),
            "no such file".to_string(),
        ]);
        assert_eq!(r.causes, ["/b.tar: no such file"]);
        assert_eq!(r.one_line(), "cannot join: /b.tar: no such file");
    }

    #[test]
    fn one_style_with_the_tool_name() {
        let r = ErrorReport::from_chain(["cannot join".to_string(), "/b.tar: gone".to_string()])
            .with_hint(Some("give the bundle's path".into()));
        assert_eq!(
            r.render("u7s", false),
            "u7s: error: cannot join\n  caused by: /b.tar: gone\n  hint: give the bundle's path\n"
        );
        assert_eq!(
            ErrorReport::new("x").render("u7s-build", true),
            "\x1b[1;31mu7s-build: error:\x1b[0m x\n"
        );
        assert_eq!(
            ErrorReport::new("x").with_hint(Some(String::new())).hint,
            None
        );
        assert_eq!(
            warning("u7s-install", "w", false),
            "u7s-install: warning: w\n"
        );
    }

    #[test]
    fn clap_usage_errors_get_the_tool_name() {
        assert_eq!(
            usage_error_text(
                "u7s-build",
                "error: unexpected argument '--x' found\n\nUsage: …\n"
            ),
            "u7s-build: error: unexpected argument '--x' found\n\nUsage: …\n"
        );
        assert_eq!(
            usage_error_text("u7s", "Usage: u7s <COMMAND>\n"),
            "Usage: u7s <COMMAND>\n"
        );
    }
}
