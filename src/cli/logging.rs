//! Logs of the command line: `tracing` to stderr at the verbosity `-v` asks for.

/// `RUST_LOG` when set; else warnings, and with `-v`/`-vv`/`-vvv` more of Coxswain's own crates
/// only (`-vvv` adds the HTTP and TLS libraries' debug output, which floods at `-vv`).
pub(super) fn init_tracing(verbose: u8, ansi: bool) {
    let default = tracing_filter(verbose);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// The log filter for `-v` repeated `verbose` times (see [`init_tracing`]); the desktop app's
/// log file uses it too.
pub fn tracing_filter(verbose: u8) -> String {
    const OURS: [&str; 5] =
        ["coxswain", "coxswain_cluster", "coxswain_model", "coxswain_memcluster", "coxswain_app"];
    let level = match verbose {
        0 => return "warn".to_owned(),
        1 => "info",
        2 => "debug",
        _ => return "debug".to_owned(),
    };
    let ours: Vec<String> = OURS.iter().map(|krate| format!("{krate}={level}")).collect();
    format!("warn,{}", ours.join(","))
}

#[cfg(test)]
mod tests {
    use super::tracing_filter;

    #[test]
    fn verbosity_raises_only_our_crates_until_the_third_v() {
        assert_eq!(tracing_filter(0), "warn");
        let debug = tracing_filter(2);
        assert!(debug.starts_with("warn,coxswain=debug,"), "{debug}");
        assert!(!debug.contains("hyper") && !debug.contains("rustls"), "{debug}");
        assert!(tracing_subscriber::EnvFilter::try_new(&debug).is_ok(), "{debug}");
        assert_eq!(tracing_filter(3), "debug");
    }
}
