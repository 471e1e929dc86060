//! The one place where results and errors become exit codes.

use std::process::ExitCode;

use crate::report::Verdict;

/// Exit codes shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Pass = 0,
    Fail = 1,
    Usage = 2,
    Inconclusive = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl Exit {
    /// The exit code for a set of verdicts: any fail, else any inconclusive, else pass.
    pub fn for_verdicts(verdicts: impl IntoIterator<Item = Verdict>) -> Exit {
        let mut exit = Exit::Pass;
        for v in verdicts {
            match v {
                Verdict::Fail => return Exit::Fail,
                Verdict::Inconclusive => exit = Exit::Inconclusive,
                Verdict::Pass => {}
            }
        }
        exit
    }
}

/// Commands that report a std `ExitCode` map onto ours (they only use 0, 1 and 2).
pub(crate) fn exit_of(code: ExitCode) -> anyhow::Result<Exit> {
    Ok(if code == ExitCode::SUCCESS {
        Exit::Pass
    } else if code == ExitCode::from(Exit::Usage as u8) {
        Exit::Usage
    } else {
        Exit::Fail
    })
}

/// `manifesto review`: bad arguments (revision, author, check options) are usage errors; git,
/// rendering and I/O failures fail.
impl From<&crate::bot::review::ReviewError> for Exit {
    fn from(e: &crate::bot::review::ReviewError) -> Exit {
        if e.is_usage() {
            Exit::Usage
        } else {
            Exit::Fail
        }
    }
}

/// `manifesto comment`: bad input (token, repository, SHA, body, verdict) is a usage error;
/// GitHub and the network fail.
impl From<&crate::bot::github::GithubError> for Exit {
    fn from(e: &crate::bot::github::GithubError) -> Exit {
        if e.is_usage() {
            Exit::Usage
        } else {
            Exit::Fail
        }
    }
}
