//! The operation journal: every mutation is recorded before its first upstream write, executed
//! against both systems, and each side's outcome is saved with the links it established. What a
//! request cannot finish, the worker finishes; after a crash, it resumes.

mod action;
mod audit;
mod businesses;
mod contacts;
mod executor;
mod notes;
mod outcome;
mod parent;
pub mod plan;
mod requests;
mod requests_children;
mod steps;
mod tasks;
mod turns;
pub mod worker;

pub use action::{
    Action, BusinessFields, ContactFields, ContactPatch, CustomFieldValue, NoteFields, NotePatch,
    TaskFields, TaskPatch,
};
pub use executor::{
    REQUEST_DEADLINE, SubmitError, Submitted, execute_now, next_delay, request_hash, run_due,
    submit, submit_as,
};
pub use outcome::{SideDone, StepError};
