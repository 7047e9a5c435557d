//! `u7s-install`: parses the command line and exits with the status the library decided.

use clap::Parser;

fn main() {
    let cli = installer::cli::Cli::try_parse()
        .unwrap_or_else(|e| term::exit_on_clap_error(installer::ui::TOOL, e));
    std::process::exit(installer::cli::run(cli));
}
