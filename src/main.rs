//! The `coxswain` command. All parsing and behaviour live in the library (`coxswain::cli`), which
//! the desktop app's headless mode shares.

fn main() -> std::process::ExitCode {
    coxswain::cli::main()
}
