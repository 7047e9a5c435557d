//! `u7s-install`: parses the command line and exits with the status the library decided.

use clap::Parser;

fn main() {
    let cli = installer::cli::Cli::parse();
    std::process::exit(installer::cli::run(cli));
}
