// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

//! `coxswain-app`: the desktop app, or with `--sync` (and the CLI's other headless arguments)
//! the `coxswain` command line, with no window and no display needed.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    // Before any GUI code: GTK cannot even initialise without a display.
    if coxswain::cli::is_headless_invocation(&args) {
        return coxswain::cli::main_from(std::env::args_os());
    }
    coxswain_app::run(&coxswain_app::Launch::from_args(&args))
}
