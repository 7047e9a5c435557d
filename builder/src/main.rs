//! `u7s-build`: renders the library's results and errors for people (and `--json` for CI).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use builder::cli::{Cli, Command};
use builder::progress::Progress;
use builder::{Error, cancel, pipeline};
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(shell) = cli.completions {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "u7s-build",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    if cli.man {
        let man = clap_mangen::Man::new(Cli::command());
        let mut out = Vec::new();
        if let Err(e) = man.render(&mut out) {
            eprintln!("u7s-build: cannot render the man page: {e}");
            return ExitCode::FAILURE;
        }
        let _ = std::io::stdout().write_all(&out);
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        let _ = Cli::command().print_help();
        return ExitCode::from(2);
    };

    let _ = ctrlc::set_handler(|| {
        if cancel::requested() {
            eprintln!("u7s-build: interrupted again, exiting now");
            std::process::exit(130);
        }
        eprintln!(
            "u7s-build: interrupted: stopping and cleaning up (Ctrl-C again to exit at once)"
        );
        cancel::request();
    });

    let (common, release) = match &command {
        Command::Release(r) => (&r.common, Some(r)),
        Command::Fetch(c) | Command::Patch(c) | Command::Build(c) | Command::List(c) => (c, None),
    };
    let progress = Progress::detect(common.quiet);
    let result = builder::cli::options(common, release).and_then(|opts| match &command {
        Command::Release(_) => pipeline::release(&opts, &progress),
        Command::Fetch(_) => pipeline::fetch(&opts, &progress),
        Command::Patch(_) => pipeline::patch(&opts, &progress),
        Command::Build(_) => pipeline::build(&opts, &progress),
        Command::List(_) => pipeline::list(&opts),
    });
    match result {
        Ok(summary) => {
            if common.json {
                print!("{}", summary.to_json());
            } else {
                print_human(&summary);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            if matches!(e, Error::Cancelled) || cancel::requested() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn print_human(s: &builder::summary::Summary) {
    let mut out = std::io::stdout().lock();
    match s.command.as_str() {
        "list" => {
            for c in &s.components {
                let built = match c.cached {
                    Some(true) => "built",
                    Some(false) => "not built",
                    None => "-",
                };
                let _ = writeln!(
                    out,
                    "{:<24} {:<16} {:<10} {:<9} {}{}",
                    c.name,
                    c.version,
                    if c.source_cached {
                        "fetched"
                    } else {
                        "not fetched"
                    },
                    built,
                    describe(&c.source),
                    if c.patches.is_empty() {
                        String::new()
                    } else {
                        format!(" +{} patch(es)", c.patches.len())
                    }
                );
            }
        }
        "release" => {
            if let (Some(a), Some(c)) = (&s.archive, &s.checksums) {
                let _ = writeln!(out, "{}  {}", a.sha256, a.path);
                let _ = writeln!(out, "{}", c.path);
            }
        }
        "patch" => {
            for c in &s.components {
                let _ = writeln!(
                    out,
                    "{:<24} {}",
                    c.name,
                    c.src_dir.as_deref().unwrap_or("-")
                );
            }
        }
        "build" => {
            for c in &s.components {
                let _ = writeln!(
                    out,
                    "{:<24} {}{}",
                    c.name,
                    c.build_dir.as_deref().unwrap_or("-"),
                    if c.cached == Some(true) {
                        " (cached)"
                    } else {
                        ""
                    }
                );
            }
        }
        _ => {
            for c in &s.components {
                let _ = writeln!(
                    out,
                    "{:<24} {}",
                    c.name,
                    if c.fetched == Some(true) {
                        "fetched"
                    } else {
                        "cached"
                    }
                );
            }
        }
    }
}

fn describe(s: &bundle::manifest::Source) -> String {
    match s {
        bundle::manifest::Source::Git { url, rev, tag } => {
            format!(
                "{url} @ {}{}",
                &rev[..12.min(rev.len())],
                tag.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()
            )
        }
        bundle::manifest::Source::Url { url, .. } => url.clone(),
        bundle::manifest::Source::Path { path } => format!("path {path}"),
        bundle::manifest::Source::Go {
            module, version, ..
        } => format!("go {module}@{version}"),
    }
}

fn report(e: &Error) {
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut err = std::io::stderr().lock();
    if let Error::BuildFailed { tail, .. } = e {
        let _ = writeln!(err, "---- last lines of the build log ----");
        let _ = writeln!(err, "{tail}");
        let _ = writeln!(err, "-------------------------------------");
    }
    let prefix = if color {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    };
    let _ = writeln!(err, "{prefix} {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = writeln!(err, "  caused by: {s}");
        source = s.source();
    }
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "hint: {h}");
    }
}
