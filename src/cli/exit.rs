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
                // Serving no XMPP is not a pass: nothing was checked.
                Verdict::Fail | Verdict::NoService => return Exit::Fail,
                Verdict::Inconclusive => exit = Exit::Inconclusive,
                Verdict::Pass => {}
            }
        }
        exit
    }
}

/// `manifesto site`: the register was validated before the build, so whatever fails after is
/// the run failing (I/O, a broken invariant), never a usage error.
pub(crate) fn site_exit(e: &crate::site::SiteError) -> Exit {
    use crate::site::SiteError;
    match e {
        SiteError::Results(_)
        | SiteError::UnnormalisedDomain { .. }
        | SiteError::Io { .. }
        | SiteError::Render { .. }
        | SiteError::Json(_)
        | SiteError::WriterPanicked => Exit::Fail,
    }
}

/// `manifesto serve`: an unusable tokens file, CA file, trust anchor or responder
/// configuration, or a database of a newer schema, is a usage error; a database that cannot be
/// opened, an address that cannot be bound, and failures while serving fail.
pub(crate) fn for_serve_error(e: &crate::serve::ServeError) -> Exit {
    if e.is_usage() {
        Exit::Usage
    } else {
        Exit::Fail
    }
}

/// `validate`: any problem in the register fails (1), as an invalid register fails `sweep`
/// ([`for_sweep_error`]).
pub(crate) fn for_validation(validation: &crate::register::registry::Validation) -> Exit {
    if validation.is_ok() {
        Exit::Pass
    } else {
        Exit::Fail
    }
}

/// A sweep that stopped: a `--domain` that is not a domain of the register, or an unusable
/// `--ca-file` or `--trust-anchor`, is a usage error (2); an invalid register, results that
/// cannot be read or written, and a checker that cannot start are failures (1).
pub(crate) fn for_sweep_error(e: &crate::register::sweep::SweepError) -> Exit {
    use crate::check::CheckError;
    use crate::register::sweep::SweepError;
    match e {
        SweepError::InvalidDomain { .. }
        | SweepError::NotInRegister(_)
        | SweepError::Checker(
            CheckError::CaFile(..) | CheckError::TrustAnchor(..) | CheckError::Responder(_),
        ) => Exit::Usage,
        SweepError::InvalidRegister { .. }
        | SweepError::Checker(_)
        | SweepError::Store(_)
        | SweepError::Cancelled => Exit::Fail,
    }
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
                | CheckError::TrustAnchor(..)
                | CheckError::Responder(_),
            ) => Exit::Usage,
            CheckCommandError::Check(CheckError::Dns(_) | CheckError::Tls(_))
            | CheckCommandError::Output(_) => Exit::Fail,
        }
    }
}
