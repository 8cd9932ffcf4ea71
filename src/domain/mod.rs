//! The unified records: each entity as the gateway shows it, merged field by field from its GHL
//! record and its Baserow row.

pub mod custom_fields;
pub mod merge;

use crate::{
    backends::{
        baserow::{ContactRow, NoteRow, TaskRow},
        ghl,
    },
    store::Link,
};

/// A contact as both systems hold it. Either side may be missing.
#[derive(Debug, Clone)]
pub struct ContactRecord {
    pub link: Link,
    pub ghl: Option<ghl::Contact>,
    pub baserow: Option<ContactRow>,
}

/// A task as both systems hold it.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub link: Link,
    pub ghl: Option<ghl::Task>,
    pub baserow: Option<TaskRow>,
}

/// A note as both systems hold it.
#[derive(Debug, Clone)]
pub struct NoteRecord {
    pub link: Link,
    pub ghl: Option<ghl::Note>,
    pub baserow: Option<NoteRow>,
}
