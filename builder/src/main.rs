//! `u7s-build`: renders the library's results and errors for people (and `--json` for CI).

use std::io::Write;
use std::process::ExitCode;

use builder::cli::{Cli, Command};
use builder::progress::Progress;
use builder::{Error, cancel, pipeline};
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let cli = Cli::try_parse().unwrap_or_else(|e| term::exit_on_clap_error("u7s-build", e));
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
            term::ErrorReport::new(format!("cannot render the man page: {e}")).eprint("u7s-build");
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
            let _ = out.write_all(s.list_table().as_bytes());
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

fn report(e: &Error) {
    if let Error::BuildFailed { tail, .. } = e {
        eprintln!("---- last lines of the build log ----");
        eprintln!("{tail}");
        eprintln!("-------------------------------------");
    }
    term::ErrorReport::from_error(e)
        .with_hint(e.hint().map(str::to_string))
        .eprint("u7s-build");
}
