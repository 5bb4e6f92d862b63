//! Sync progress on the terminal: a spinner with live health on a TTY, plain lines in CI.

use crate::plan::EnvPlan;
use crate::plan::render::PlanReport;
use crate::sync::{Progress, SyncEvent};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::Duration;

/// Prints progress and asks for confirmation before writing.
pub struct TerminalProgress {
    bar: Option<ProgressBar>,
    /// `--yes`, or CI=true: apply without asking.
    assume_yes: bool,
    colour: bool,
    /// Print each plan before it is applied (text output only).
    show_plan: bool,
    prompt_lock: Mutex<()>,
}

impl TerminalProgress {
    pub fn new(assume_yes: bool, show_plan: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            assume_yes,
            colour: std::io::stdout().is_terminal(),
            show_plan,
            prompt_lock: Mutex::new(()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for TerminalProgress {
    fn event(&self, env: &str, event: &SyncEvent) {
        let text = match event {
            SyncEvent::Planned { changes } => format!("{env}: planned, {changes} change(s)"),
            SyncEvent::Locked { holder } => format!("{env}: locked by {holder}"),
            SyncEvent::NamespaceCreated { namespace } => {
                format!("{env}: created namespace {namespace}")
            }
            SyncEvent::TierStarted { tier, objects } => {
                format!("{env}: applying {tier} ({objects})")
            }
            SyncEvent::Applied { object } => format!("{env}:   applied {object}"),
            SyncEvent::Health { object, health, message } => {
                // A crashed container's log lines follow the first line; the final report shows
                // them once.
                let message = message.lines().next().unwrap_or_default();
                if let Some(bar) = &self.bar {
                    bar.set_message(format!(
                        "{env}: waiting for health: {object} {} ({message})",
                        health.as_str()
                    ));
                    return;
                }
                format!("{env}:   {object}: {} ({message})", health.as_str())
            }
            SyncEvent::Pruned { object } => format!("{env}:   pruned {object}"),
            SyncEvent::PruneSkipped { object, reason } => {
                format!("{env}:   not pruned {object}: {reason}")
            }
            SyncEvent::Recorded { revision } => format!("{env}: recorded revision {revision}"),
            SyncEvent::RollingBack { to } => format!("{env}: rolling back to revision {to}"),
        };
        self.line(&text);
    }

    fn confirm(&self, plan: &EnvPlan) -> bool {
        let _guard = self.prompt_lock.lock();
        if self.show_plan {
            if let Some(bar) = &self.bar {
                bar.suspend(|| {
                    print!("{}", PlanReport::new(vec![plan.clone()]).render_text(self.colour));
                });
            } else {
                print!("{}", PlanReport::new(vec![plan.clone()]).render_text(self.colour));
            }
        }
        if self.assume_yes {
            return true;
        }
        if !std::io::stdin().is_terminal() {
            self.line("not applying: standard input is not a terminal; pass --yes to apply without a prompt");
            return false;
        }
        let answer = self.bar.as_ref().map_or_else(ask, |bar| bar.suspend(ask));
        if !answer {
            self.line(&format!("{}: cancelled, nothing was applied", plan.env));
        }
        answer
    }
}

fn ask() -> bool {
    print!("Apply these changes? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
}
