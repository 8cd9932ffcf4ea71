//! Simulators of the two upstream APIs, written from their specs and FACTS.md alone.
//!
//! They are real HTTP servers on loopback, used by `demo`, by `sim ghl|baserow` and by the tests.
//! Nothing here imports `crate::backends` (and the clients never import this module): a wrong field
//! name in a shared type would agree with itself and every test would pass.

pub mod baserow;
pub mod ghl;
