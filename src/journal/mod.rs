//! The operation journal: every mutation is recorded before its first upstream write, executed
//! against both systems, and each side's outcome is saved with the links it established. What a
//! request cannot finish, the worker finishes; after a crash, it resumes.

mod action;
mod contacts;
mod executor;
mod outcome;
mod steps;
pub mod worker;

pub use action::{Action, ContactFields, ContactPatch};
pub use executor::{
    REQUEST_DEADLINE, SubmitError, Submitted, execute_now, next_delay, request_hash, run_due,
    submit,
};
pub use outcome::{SideDone, StepError};
