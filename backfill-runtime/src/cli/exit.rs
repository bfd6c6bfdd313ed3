//! The command line's exit codes: one per kind of outcome, so a deploy script or a job runner can
//! tell "finished", "refused to start" and "interrupted, resume later" apart.

use std::fmt;
use std::process::ExitCode;

/// The exit codes of [`main`](super::main), also listed in `--help`.
///
/// | code | meaning |
/// |---|---|
/// | 0 | done (or nothing to do) |
/// | 1 | runtime error (database, connection, a batch that failed after its retries) |
/// | 2 | usage or configuration error (unknown backfill, bad option, missing `DATABASE_URL`) |
/// | 3 | preflight failed: the target is not safe to backfill; nothing was written |
/// | 4 | `verify` found rows that differ from their source |
/// | 130 | interrupted (SIGINT/SIGTERM); the job is resumable |
///
/// ```
/// use backfill_runtime::cli::Exit;
///
/// assert_eq!(Exit::Preflight.code(), 3);
/// assert_eq!(Exit::Interrupted.code(), 130);
/// let _code: std::process::ExitCode = Exit::Done.into();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what it was asked.
    Done,
    /// 1: a runtime error (database, connection, a batch failed after its retries).
    Failed,
    /// 2: a usage or configuration error.
    Usage,
    /// 3: preflight failed; nothing was written.
    Preflight,
    /// 4: `verify` found differences.
    Differences,
    /// 130: stopped by SIGINT/SIGTERM; the job can be resumed.
    Interrupted,
}

impl Exit {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Preflight => 3,
            Exit::Differences => 4,
            Exit::Interrupted => 130,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// The exit codes as `--help` shows them.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    done (or nothing to do)
  1    runtime error (database, connection, a batch failed after its retries)
  2    usage or configuration error
  3    preflight failed: the target is not safe to backfill; nothing was written
  4    verify found differences between the table and its source
  130  interrupted by SIGINT/SIGTERM; the job is resumable";

/// A failed command, the command line's one failure type: the message to print and the exit
/// code. A library [`Error`](crate::Error) maps to its code in `From<Error>` (preflight 3,
/// options 2, anything else 1).
#[derive(Debug)]
pub(crate) struct CommandError {
    /// The process exit code.
    pub(crate) exit: Exit,
    /// What to print on stderr.
    pub(crate) message: String,
}

impl CommandError {
    /// A usage or configuration error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> CommandError {
        CommandError {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    /// A runtime error (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> CommandError {
        CommandError {
            exit: Exit::Failed,
            message: message.into(),
        }
    }
}

impl From<crate::error::Error> for CommandError {
    fn from(error: crate::error::Error) -> CommandError {
        let exit = if error.is_preflight() {
            Exit::Preflight
        } else if matches!(error, crate::error::Error::Options(_)) {
            Exit::Usage
        } else {
            Exit::Failed
        };
        CommandError {
            exit,
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Engine;

    #[test]
    fn every_code_is_distinct_and_documented_in_help() {
        let all = [
            Exit::Done,
            Exit::Failed,
            Exit::Usage,
            Exit::Preflight,
            Exit::Differences,
            Exit::Interrupted,
        ];
        let mut codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        codes.dedup();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 130]);
        for code in codes {
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n  {code} ")),
                "exit code {code} is missing from --help"
            );
        }
    }

    #[test]
    fn preflight_errors_exit_3_and_others_exit_1() {
        let preflight = crate::error::Error::MissingTable {
            table: "user_stats".into(),
            key: "user_id".into(),
            engine: Engine::Postgres,
        };
        assert_eq!(CommandError::from(preflight).exit, Exit::Preflight);
        let mismatch = crate::error::Error::FingerprintMismatch {
            job: "user_stats".into(),
            stored: "a".into(),
            current: "b".into(),
        };
        assert_eq!(CommandError::from(mismatch).exit, Exit::Failed);
        let options = crate::error::Error::Options("batch size 0".into());
        assert_eq!(CommandError::from(options).exit, Exit::Usage);
    }
}
