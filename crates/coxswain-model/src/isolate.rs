//! Running tract on an untrusted model without letting it crash or hang the caller.
//!
//! tract panics on some malformed graphs, and a pathological model can run for a long time. The
//! work runs on its own thread under `catch_unwind`, with a wall-clock cap; a panic becomes
//! `ValidationError::Panic` and an overrun `ValidationError::Timeout`. The default panic hook
//! would still print a backtrace notice to stderr for the caught panic, so a process-wide hook
//! (installed once, delegating to the previous one) stays quiet for worker threads and records
//! the message instead.
//!
//! Limits of the approach: a timed-out worker cannot be killed; it is asked to stop at the next
//! batch boundary and otherwise finishes in the background. Allocation failure aborts the process
//! in Rust, which `proto::preflight` makes unlikely by refusing tensors larger than the file.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::ValidationError;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let location = info.location().map(|l| format!(" (at {}:{})", l.file(), l.line()));
                let message =
                    format!("{}{}", payload_text(info.payload()), location.unwrap_or_default());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "non-text panic payload"
    };
    condense(text)
}

/// One line, without the backtrace that `unwrap()` on an anyhow error embeds when
/// `RUST_BACKTRACE` is set, and short enough for a report.
fn condense(text: &str) -> String {
    const MAX: usize = 400;
    let text = text.split("Stack backtrace:").next().unwrap_or(text);
    let mut one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > MAX {
        one_line = one_line.chars().take(MAX).collect();
        one_line.push('…');
    }
    one_line
}

/// Handed to the work so it can say what it is doing (for panic messages) and notice that the
/// caller gave up waiting.
pub(crate) struct Worker {
    stage: Cell<&'static str>,
    cancel: Arc<AtomicBool>,
    deadline: Instant,
    file: String,
    limit: Duration,
}

impl Worker {
    pub fn stage(&self, stage: &'static str) {
        self.stage.set(stage);
    }

    /// Err once the time cap has passed; called between inference calls.
    pub fn check_time(&self) -> Result<(), ValidationError> {
        if self.cancel.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
            return Err(ValidationError::Timeout { file: self.file.clone(), limit: self.limit });
        }
        Ok(())
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// Generous: tract's graph passes recurse, and a stack overflow aborts instead of unwinding.
const WORKER_STACK: usize = 64 * 1024 * 1024;

/// Runs `work` on a fresh thread; panics and overruns of `limit` become errors naming `file`.
pub(crate) fn run<T, F>(file: &str, limit: Duration, work: F) -> Result<T, ValidationError>
where
    T: Send + 'static,
    F: FnOnce(&Worker) -> Result<T, ValidationError> + Send + 'static,
{
    install_hook();
    let (tx, rx) = mpsc::sync_channel(1);
    let cancel = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let worker = Worker {
        stage: Cell::new("loading the model"),
        cancel: Arc::clone(&cancel),
        deadline: start.checked_add(limit).unwrap_or(start),
        file: file.to_owned(),
        limit,
    };
    let spawned = thread::Builder::new()
        .name("coxswain-model".into())
        .stack_size(WORKER_STACK)
        .spawn(move || {
            QUIET.with(|q| q.set(true));
            let result = panic::catch_unwind(AssertUnwindSafe(|| work(&worker)));
            let result = result.unwrap_or_else(|payload| {
                let message = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| payload_text(payload.as_ref()));
                Err(ValidationError::Panic {
                    file: worker.file.clone(),
                    stage: worker.stage.get().to_owned(),
                    message,
                })
            });
            // The receiver is gone only if the caller timed out; nothing left to tell.
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(ValidationError::Io { file: file.to_owned(), source: e });
    }
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            cancel.store(true, Ordering::Relaxed);
            Err(ValidationError::Timeout { file: file.to_owned(), limit })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ValidationError::Panic {
            file: file.to_owned(),
            stage: "running the model".into(),
            message: "the worker thread ended without a result".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_error_with_message_and_stage() {
        let err = run("m.onnx", Duration::from_secs(10), |w| -> Result<(), ValidationError> {
            w.stage("optimising");
            let v: Vec<u8> = Vec::new();
            let i = v.len() + 3;
            // Index out of bounds on purpose: the point is that it does not escape.
            let _ = v[i];
            Ok(())
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("m.onnx: tract panicked while optimising: index out of bounds"),
            "{text}"
        );
        assert!(text.contains("isolate.rs"), "location recorded: {text}");
    }

    #[test]
    fn overrun_becomes_timeout() {
        let err = run("m.onnx", Duration::from_millis(50), |w| -> Result<(), ValidationError> {
            loop {
                w.check_time()?;
                thread::sleep(Duration::from_millis(5));
            }
        })
        .unwrap_err();
        assert!(matches!(err, ValidationError::Timeout { .. }), "{err}");
    }

    #[test]
    fn condense_drops_backtrace_and_newlines() {
        let text = "called `unwrap()` on an `Err` value: bad axis\n\nCaused by:\n  x\n\nStack backtrace:\n  0: foo";
        assert_eq!(condense(text), "called `unwrap()` on an `Err` value: bad axis Caused by: x");
        assert_eq!(condense(&"a".repeat(500)).chars().count(), 401);
    }

    #[test]
    fn value_is_returned() {
        assert_eq!(run("m.onnx", Duration::from_secs(10), |_| Ok(7)).unwrap(), 7);
    }
}
