//! The operation journal: every mutation is recorded before its first upstream write, executed
//! against both systems, and each side's outcome is saved with the links it established.

mod contacts;

pub use contacts::{NewContactInput, create_contact};
