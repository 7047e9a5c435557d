//! `u7s-doctor`: command-line front end of the doctor library.
fn main() {
    let report = doctor::run(&doctor::Options::default());
    print!("{}", report.render_table(false));
    std::process::exit(if report.has_failures() { 1 } else { 0 });
}
