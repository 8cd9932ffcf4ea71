//! One execution at a time per entity, within this process: an operation resumed by the worker
//! and a later one from a request must not write the same record concurrently, or the older
//! values could land last. (After a crash the old process's calls are gone; the lease keeps a
//! resumed operation from starting before they could land.)

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

type Turns = Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>;

static TURNS: LazyLock<Turns> = LazyLock::new(Default::default);

/// Waits for the entity's turn; it lasts until the guard is dropped.
pub async fn turn(entity: Uuid) -> OwnedMutexGuard<()> {
    let turn = {
        let mut turns = TURNS.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the entities nobody holds or waits for.
        turns.retain(|_, t| Arc::strong_count(t) > 1);
        Arc::clone(turns.entry(entity).or_default())
    };
    turn.lock_owned().await
}
