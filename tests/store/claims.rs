//! Leasing due operations: each goes to exactly one worker at a time.

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use ghl_baserow_gateway::store::{OperationRecord, OperationStatus};
use serde_json::json;
use uuid::Uuid;

use crate::support::each_store;

const LONG: Duration = Duration::from_secs(60);

fn due(n: usize) -> Vec<OperationRecord> {
    (0..n)
        .map(|i| {
            let mut op = OperationRecord::new("updateContact", None, json!({"i": i}));
            op.next_attempt_at = Some(Utc::now() - chrono::Duration::seconds(1));
            op
        })
        .collect()
}

fn ids(ops: &[OperationRecord]) -> Vec<Uuid> {
    ops.iter().map(|o| o.id).collect()
}

#[tokio::test]
async fn only_pending_operations_that_are_due_are_claimed() {
    each_store(|store| async move {
        let ready = &due(1)[0];
        let mut later = OperationRecord::new("updateContact", None, json!({}));
        later.next_attempt_at = Some(Utc::now() + chrono::Duration::hours(1));
        let mut finished = due(1).remove(0);
        finished.status = OperationStatus::Succeeded;
        let mut unscheduled = due(1).remove(0);
        unscheduled.next_attempt_at = None;
        for op in [ready, &later, &finished, &unscheduled] {
            store.insert_operation(op).await.unwrap();
        }
        let claimed = store.claim_due_operations(LONG, 10).await.unwrap();
        assert_eq!(ids(&claimed), vec![ready.id]);
    })
    .await;
}

#[tokio::test]
async fn a_claim_takes_at_most_limit_operations_oldest_due_first() {
    each_store(|store| async move {
        let mut ops = due(5);
        for (i, op) in ops.iter_mut().enumerate() {
            op.next_attempt_at = Some(Utc::now() - chrono::Duration::seconds(10 - i as i64));
            store.insert_operation(op).await.unwrap();
        }
        let first = store.claim_due_operations(LONG, 2).await.unwrap();
        assert_eq!(ids(&first), ids(&ops[..2]));
        let rest = store.claim_due_operations(LONG, 10).await.unwrap();
        assert_eq!(ids(&rest), ids(&ops[2..]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_get_the_same_operation() {
    each_store(|store| async move {
        let ops = due(30);
        for op in &ops {
            store.insert_operation(op).await.unwrap();
        }
        let claimers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store.claim_due_operations(LONG, 3).await.unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(ids(&batch));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for claimer in claimers {
            for id in claimer.await.unwrap() {
                assert!(seen.insert(id), "{id} was handed out twice");
            }
        }
        assert_eq!(seen, ids(&ops).into_iter().collect::<HashSet<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_leased_operation_is_not_claimed_again_until_its_lease_expires() {
    each_store(|store| async move {
        let op = &due(1)[0];
        store.insert_operation(op).await.unwrap();
        let lease = Duration::from_millis(300);
        assert_eq!(
            ids(&store.claim_due_operations(lease, 10).await.unwrap()),
            vec![op.id]
        );
        assert!(
            store
                .claim_due_operations(lease, 10)
                .await
                .unwrap()
                .is_empty()
        );

        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = store.claim_due_operations(LONG, 10).await.unwrap();
        assert_eq!(
            ids(&again),
            vec![op.id],
            "an expired lease frees the operation"
        );
    })
    .await;
}

#[tokio::test]
async fn saving_an_operation_releases_its_lease() {
    each_store(|store| async move {
        let op = due(1).remove(0);
        store.insert_operation(&op).await.unwrap();
        let mut claimed = store.claim_due_operations(LONG, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);

        // The attempt failed; it is due again at once.
        let mut retry = claimed.remove(0);
        retry.attempts = 1;
        retry.next_attempt_at = Some(Utc::now() - chrono::Duration::seconds(1));
        store.save_operation(&retry, None).await.unwrap();
        let again = store.claim_due_operations(LONG, 10).await.unwrap();
        assert_eq!(ids(&again), vec![op.id]);
        assert_eq!(again[0].attempts, 1);

        // It succeeded: never handed out again.
        let mut done = again[0].clone();
        done.status = OperationStatus::Succeeded;
        done.next_attempt_at = None;
        store.save_operation(&done, None).await.unwrap();
        assert!(
            store
                .claim_due_operations(LONG, 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}
