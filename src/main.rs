//! The `packgate` binary.

fn main() -> std::process::ExitCode {
    packgate::cli::run()
}
