//! Writing to a standard stream that the reader may have closed (`snapstate sim-check | head`).
//!
//! Rust ignores `SIGPIPE`, so a write to a closed pipe returns `EPIPE` (`BrokenPipe`) instead
//! of ending the process; `println!` then panics. The command treats a closed standard stream
//! as the reader's choice, not a failure to report: it stops quietly with
//! [`EXIT_CLOSED_OUTPUT`]. Code that writes its output goes through `io::Write` and returns
//! the error ([`is_closed_output`] recognises it at the top); [`run_quietly_on_closed_output`]
//! also catches the panic of a print macro on a closed stream anywhere in the command, so that
//! no path can end with a panic message and status 101.

use std::any::Any;
use std::error::Error;
use std::io;
use std::panic::{self, AssertUnwindSafe};

/// The exit status when standard output or standard error was closed by its reader: 141, what
/// a shell reports for a process ended by `SIGPIPE` (128 + 13).
pub const EXIT_CLOSED_OUTPUT: u8 = 141;

/// `error`, then each error it was caused by, in order (its `source` chain).
pub fn chain<'error>(
    error: &'error (dyn Error + 'static),
) -> impl Iterator<Item = &'error (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}

/// Whether `error`, or an error it was caused by, is a write to a closed pipe.
pub fn is_closed_output(error: &(dyn Error + 'static)) -> bool {
    chain(error).any(|error| {
        error
            .downcast_ref::<io::Error>()
            .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Whether a panic message is a print macro's on a closed standard stream.
fn is_closed_print(message: &str) -> bool {
    (message.starts_with("failed printing to stdout")
        || message.starts_with("failed printing to stderr"))
        && message.contains("Broken pipe")
}

/// A panic's message, when it is text (a print macro's always is).
fn message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
}

/// Runs `command`; a print macro's panic on a closed standard stream becomes
/// `Err(EXIT_CLOSED_OUTPUT)`, printed nowhere. Every other panic is reported and resumed as
/// usual.
///
/// # Errors
///
/// [`EXIT_CLOSED_OUTPUT`] when `command` panicked writing to a closed stream.
pub fn run_quietly_on_closed_output<T>(command: impl FnOnce() -> T) -> Result<T, u8> {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !message(info.payload()).is_some_and(is_closed_print) {
            default_hook(info);
        }
    }));
    match panic::catch_unwind(AssertUnwindSafe(command)) {
        Ok(value) => Ok(value),
        Err(payload) => {
            if message(payload.as_ref()).is_some_and(is_closed_print) {
                Err(EXIT_CLOSED_OUTPUT)
            } else {
                panic::resume_unwind(payload)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_recognised_through_its_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot write the report")]
        struct Wrapper(#[source] io::Error);

        let closed = Wrapper(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_closed_output(&closed));
        let other = Wrapper(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_closed_output(&other));
    }

    #[test]
    fn print_panics_on_a_closed_stream_are_recognised_and_others_are_not() {
        assert!(is_closed_print(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_print("index out of bounds"));
        assert!(!is_closed_print(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
    }
}
