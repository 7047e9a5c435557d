//! PATH integration the way rustup does it: a small POSIX `PREFIX/env` file that prepends
//! `PREFIX/current/bin` to PATH only when missing, and one marked line sourcing it, appended to
//! the shell startup files that do not already source it. The line is guarded (`if [ -f … ]`),
//! so a missing env file never breaks a login (dash stops a login at a failing `.`). Uninstall
//! removes exactly the lines recorded as added (and the unguarded line of earlier installers).
//! Text generation is pure; file edits are below it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::fsutil::write_atomic;
use crate::prefix::{Env, Prefix};
use crate::record::{RcLine, Record};

/// The comment that marks the lines we add.
pub const MARKER: &str = "# added by u7s-install (usernetes)";

/// Escapes text for the inside of a POSIX double-quoted string.
fn dq_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `path` as a double-quoted shell word, late-bound to `$HOME` when it lies under `home`.
pub fn shell_word(path: &Path, home: Option<&Path>) -> String {
    if let Some(rest) = home.and_then(|h| path.strip_prefix(h).ok()) {
        let rest = rest.to_string_lossy();
        return if rest.is_empty() {
            "\"$HOME\"".to_string()
        } else {
            format!("\"$HOME/{}\"", dq_escape(&rest))
        };
    }
    format!("\"{}\"", dq_escape(&path.to_string_lossy()))
}

/// The content of `PREFIX/env`.
pub fn env_script(prefix: &Prefix, home: Option<&Path>) -> String {
    let bin = shell_word(&prefix.current_bin(), home);
    format!(
        "#!/bin/sh\n\
         # usernetes: puts the active release's bin/ folder on PATH (once).\n\
         # Written by u7s-install and sourced from your shell startup files;\n\
         # `u7s-install --uninstall` removes it and those lines.\n\
         case \":${{PATH}}:\" in\n\
         \x20   *:{bin}:*)\n\
         \x20       ;;\n\
         \x20   *)\n\
         \x20       export PATH={bin}:\"$PATH\"\n\
         \x20       ;;\n\
         esac\n"
    )
}

/// The line appended to startup files: sources the env file when it exists.
pub fn source_line(prefix: &Prefix, home: Option<&Path>) -> String {
    let env = shell_word(&prefix.env_file(), home);
    format!("if [ -f {env} ]; then . {env}; fi {MARKER}")
}

/// The unguarded line earlier installers appended (removed by uninstall too).
pub fn legacy_source_line(prefix: &Prefix, home: Option<&Path>) -> String {
    format!(". {} {MARKER}", shell_word(&prefix.env_file(), home))
}

/// True when `content` already sources the env file (late-bound or absolute spelling).
pub fn already_sources(content: &str, prefix: &Prefix, home: Option<&Path>) -> bool {
    let env = prefix.env_file();
    let forms = [
        shell_word(&env, home),
        shell_word(&env, None),
        env.to_string_lossy().into_owned(),
    ];
    content.lines().any(|l| {
        let l = l.trim_start();
        let sources = l.starts_with(". ")
            || l.starts_with("source ")
            || (l.starts_with("if ") && (l.contains("then . ") || l.contains("then source ")));
        !l.starts_with('#') && sources && forms.iter().any(|f| l.contains(f.as_str()))
    })
}

/// `content` with `line` appended on a line of its own.
pub fn append_line(content: &str, line: &str) -> String {
    let mut out = content.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// `content` without the lines equal to `line`; `None` when there is none.
pub fn remove_line(content: &str, line: &str) -> Option<String> {
    let mut found = false;
    let mut out = String::with_capacity(content.len());
    for l in content.split_inclusive('\n') {
        if l.trim_end_matches(['\n', '\r']) == line {
            found = true;
        } else {
            out.push_str(l);
        }
    }
    found.then_some(out)
}

/// The startup files to edit: `.profile` always (created if missing, "the only rc in the
/// POSIX spec"), the bash files that exist, and zsh's `.zshenv` ($ZDOTDIR-aware) when zsh is
/// the login shell, is installed, or already has a `.zshenv`.
pub fn rc_files(env: &Env) -> Result<Vec<PathBuf>> {
    let home = env.home()?;
    let mut files = vec![home.join(".profile")];
    for f in [".bash_profile", ".bash_login", ".bashrc"] {
        let p = home.join(f);
        if p.exists() {
            files.push(p);
        }
    }
    let zdot = env.zdotdir.clone().unwrap_or_else(|| home.to_path_buf());
    let zshenv = zdot.join(".zshenv");
    let zsh_used = env
        .shell
        .as_ref()
        .is_some_and(|s| Path::new(s).file_name().is_some_and(|n| n == "zsh"))
        || find_in_path("zsh").is_some();
    if zsh_used || zshenv.exists() {
        files.push(zshenv);
    }
    Ok(files)
}

/// Finds an executable named `name` in PATH.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What `add` did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PathOutcome {
    pub env_file: PathBuf,
    pub edited: Vec<PathBuf>,
    pub already: Vec<PathBuf>,
}

/// Writes the env file and appends the source line where missing, recording each addition.
pub fn add(env: &Env, prefix: &Prefix, record: &mut Record) -> Result<PathOutcome> {
    let home = env.home.as_deref();
    write_atomic(
        &prefix.env_file(),
        env_script(prefix, home).as_bytes(),
        0o644,
    )?;
    let line = source_line(prefix, home);
    let mut out = PathOutcome {
        env_file: prefix.env_file(),
        ..PathOutcome::default()
    };
    for file in rc_files(env)? {
        let (content, created) = match fs::read_to_string(&file) {
            Ok(c) => (c, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), true),
            Err(e) => return Err(crate::error::Error::io("read", &file, e)),
        };
        if already_sources(&content, prefix, home) {
            out.already.push(file);
            continue;
        }
        // Append in place: rc files are often symlinks into a dotfiles repository.
        let addition = append_line(&content, &line)[content.len()..].to_string();
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&file)
            .ctx("open", &file)?;
        f.write_all(addition.as_bytes()).ctx("append to", &file)?;
        f.sync_all().ctx("sync", &file)?;
        record.rc_lines.retain(|r| r.file != file);
        record.rc_lines.push(RcLine {
            file: file.clone(),
            line: line.clone(),
            created,
        });
        out.edited.push(file);
    }
    Ok(out)
}

/// Removes the recorded lines (and our marked line from the usual files, for a lost record)
/// and the env file; returns the files edited.
pub fn remove(env: &Env, prefix: &Prefix, record: &mut Record) -> Result<Vec<PathBuf>> {
    let mut targets: Vec<RcLine> = record.rc_lines.clone();
    if let Some(home) = env.home.as_deref() {
        let zdot = env.zdotdir.clone().unwrap_or_else(|| home.to_path_buf());
        for line in [
            source_line(prefix, Some(home)),
            legacy_source_line(prefix, Some(home)),
        ] {
            for f in [".profile", ".bash_profile", ".bash_login", ".bashrc"]
                .iter()
                .map(|f| home.join(f))
                .chain([zdot.join(".zshenv")])
            {
                targets.push(RcLine {
                    file: f,
                    line: line.clone(),
                    created: false,
                });
            }
        }
    }
    let mut edited = Vec::new();
    for t in targets {
        let Ok(content) = fs::read_to_string(&t.file) else {
            continue;
        };
        if let Some(new) = remove_line(&content, &t.line) {
            if new.is_empty() && t.created {
                // We created it for this line alone.
                crate::fsutil::remove_any(&t.file)?;
            } else {
                // Rewrite the real file (through a symlink), keeping its mode.
                let real = fs::canonicalize(&t.file).ctx("resolve", &t.file)?;
                let mode = real.metadata().ctx("stat", &real)?.permissions().mode() & 0o7777;
                write_atomic(&real, new.as_bytes(), mode)?;
            }
            if !edited.contains(&t.file) {
                edited.push(t.file);
            }
        }
    }
    record.rc_lines.clear();
    crate::fsutil::remove_any(&prefix.env_file())?;
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Prefix {
        Prefix::at("/home/a/.local/share/usernetes")
    }
    fn home() -> Option<&'static Path> {
        Some(Path::new("/home/a"))
    }

    #[test]
    fn words_are_late_bound_and_quoted() {
        assert_eq!(
            shell_word(Path::new("/home/a/.local/share/usernetes/env"), home()),
            "\"$HOME/.local/share/usernetes/env\""
        );
        assert_eq!(
            shell_word(Path::new("/opt/u$x \"q\""), home()),
            "\"/opt/u\\$x \\\"q\\\"\""
        );
        assert_eq!(shell_word(Path::new("/home/a"), home()), "\"$HOME\"");
        assert_eq!(
            source_line(&p(), home()),
            "if [ -f \"$HOME/.local/share/usernetes/env\" ]; then \
             . \"$HOME/.local/share/usernetes/env\"; fi # added by u7s-install (usernetes)"
        );
    }

    #[test]
    fn env_script_runs_idempotently_in_sh() {
        let d = tempfile::tempdir().unwrap();
        let prefix = Prefix::at(d.path().join("pre fix"));
        fs::create_dir_all(prefix.root()).unwrap();
        let script = env_script(&prefix, Some(d.path()));
        fs::write(prefix.env_file(), &script).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(". \"$1\"; . \"$1\"; printf %s \"$PATH\"")
            .arg("sh")
            .arg(prefix.env_file())
            .env("HOME", d.path())
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let path = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            path,
            format!("{}:/usr/bin:/bin", prefix.current_bin().display()),
            "{script}"
        );
    }

    #[test]
    fn detection_append_and_remove() {
        let line = source_line(&p(), home());
        assert!(!already_sources("export X=1\n", &p(), home()));
        assert!(already_sources(&format!("x\n{line}\n"), &p(), home()));
        assert!(already_sources(
            ". /home/a/.local/share/usernetes/env\n",
            &p(),
            home()
        ));
        assert!(already_sources(
            "source \"$HOME/.local/share/usernetes/env\"",
            &p(),
            home()
        ));
        assert!(!already_sources(
            "# . \"$HOME/.local/share/usernetes/env\"",
            &p(),
            home()
        ));

        assert_eq!(append_line("", "L"), "L\n");
        assert_eq!(append_line("a", "L"), "a\nL\n");
        assert_eq!(append_line("a\n", "L"), "a\nL\n");

        let content = format!("a\n{line}\nb\n{line}");
        assert_eq!(remove_line(&content, &line).unwrap(), "a\nb\n");
        assert_eq!(remove_line("a\nb\n", &line), None);
        // a user's similar line is not ours
        assert_eq!(
            remove_line(". \"$HOME/.local/share/usernetes/env\"\n", &line),
            None
        );
    }

    #[test]
    fn the_line_survives_a_missing_env_file_in_bash_and_dash() {
        let d = tempfile::tempdir().unwrap();
        let prefix = Prefix::at(d.path().join("gone"));
        let line = source_line(&prefix, Some(d.path()));
        for shell in ["sh", "bash", "dash"] {
            if find_in_path(shell).is_none() && shell != "sh" {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{shell} is not installed (scripts/ci-setup.sh installs it)"
                );
                continue;
            }
            let out = std::process::Command::new(shell)
                .arg("-c")
                .arg(format!("{line}\necho ok"))
                .env("HOME", d.path())
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{shell}");
            assert!(out.stderr.is_empty(), "{shell}: {out:?}");
            assert!(out.status.success(), "{shell}");
        }
    }

    #[test]
    fn uninstall_removes_guarded_and_legacy_lines() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let prefix = Prefix::at(home.join(".local/share/usernetes"));
        let env = Env {
            home: Some(home.clone()),
            ..Env::default()
        };
        let h = Some(home.as_path());
        fs::write(
            home.join(".profile"),
            format!("umask 022\n{}\n", legacy_source_line(&prefix, h)),
        )
        .unwrap();
        fs::write(
            home.join(".bashrc"),
            format!("alias l=ls\n{}\n", source_line(&prefix, h)),
        )
        .unwrap();
        assert!(already_sources(
            &fs::read_to_string(home.join(".bashrc")).unwrap(),
            &prefix,
            h
        ));
        let edited = remove(&env, &prefix, &mut Record::default()).unwrap();
        assert_eq!(edited.len(), 2, "{edited:?}");
        assert_eq!(
            fs::read_to_string(home.join(".profile")).unwrap(),
            "umask 022\n"
        );
        assert_eq!(
            fs::read_to_string(home.join(".bashrc")).unwrap(),
            "alias l=ls\n"
        );
    }
}
