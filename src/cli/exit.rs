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

/// `manifesto check`: a domain, CA file or trust anchor the user gave that cannot be used is a
/// usage error; a resolver or TLS set-up that fails, or stdout that cannot be written, is not.
impl From<&crate::cli::commands::check::CheckCommandError> for Exit {
    fn from(e: &crate::cli::commands::check::CheckCommandError) -> Exit {
        use crate::check::CheckError;
        use crate::cli::commands::check::CheckCommandError;
        match e {
            CheckCommandError::Check(
                CheckError::InvalidDomain(..)
                | CheckError::CaFile(..)
                | CheckError::TrustAnchor(..),
            ) => Exit::Usage,
            CheckCommandError::Check(CheckError::Dns(_) | CheckError::Tls(_))
            | CheckCommandError::Output(_) => Exit::Fail,
        }
    }
}
