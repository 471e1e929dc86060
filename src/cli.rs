//! Command-line interface: argument parsing and dispatch. Every command lives in the library;
//! this module only wires them to clap and to exit codes.

use std::process::ExitCode;

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

pub fn main() -> ExitCode {
    Exit::Usage.into()
}
