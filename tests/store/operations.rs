//! The journal: recording under idempotency keys, saving outcomes, listing.

use chrono::Utc;
use ghl_baserow_gateway::store::{
    AuditEntry, Echo, EntityKind, IdempotencyKey, OperationRecord, OperationStatus, Outcome,
    Recorded,
};
use serde_json::json;
use uuid::Uuid;

use crate::support::{each_store, link, stored};

fn key(subject: &str, key: &str, hash: &str) -> IdempotencyKey {
    IdempotencyKey {
        subject: subject.into(),
        key: key.into(),
        request_hash: hash.into(),
    }
}

#[tokio::test]
async fn a_recorded_operation_reads_back_unchanged() {
    each_store(|store| async move {
        let mut op = OperationRecord::new(
            "createContact",
            Some(Uuid::now_v7()),
            json!({"firstName": "Ada", "tags": ["a", "b"], "score": 1.5, "nested": {"x": null}}),
        );
        op.ghl.error = Some("boom".into());
        op.baserow.outcome = Outcome::Skipped;
        op.attempts = 3;
        op.trigger = "webhook".into();
        assert_eq!(
            store.record_operation(&op, None).await.unwrap(),
            Recorded::New
        );

        let loaded = store.operation(op.id).await.unwrap().unwrap();
        assert_eq!(stored(&loaded), stored(&op));
        assert_eq!(store.operation(Uuid::now_v7()).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn insert_operation_records_without_a_key() {
    each_store(|store| async move {
        let op = OperationRecord::new("deleteTask", None, json!({}));
        store.insert_operation(&op).await.unwrap();
        let loaded = store.operation(op.id).await.unwrap().unwrap();
        assert_eq!(loaded.status, OperationStatus::Pending);
        assert_eq!(loaded.entity_id, None);
    })
    .await;
}

#[tokio::test]
async fn a_key_sent_again_with_the_same_request_replays_its_operation() {
    each_store(|store| async move {
        let first = OperationRecord::new("createContact", None, json!({"a": 1}));
        let k = key("script", "k1", "h1");
        assert_eq!(
            store.record_operation(&first, Some(&k)).await.unwrap(),
            Recorded::New
        );

        let retry = OperationRecord::new("createContact", None, json!({"a": 1}));
        let again = store.record_operation(&retry, Some(&k)).await.unwrap();
        assert_eq!(again, Recorded::Replay(first.id));
        assert_eq!(
            store.operation(retry.id).await.unwrap(),
            None,
            "nothing written"
        );
    })
    .await;
}

#[tokio::test]
async fn a_key_reused_for_another_request_conflicts() {
    each_store(|store| async move {
        let first = OperationRecord::new("createContact", None, json!({"a": 1}));
        let k = key("script", "k1", "h1");
        store.record_operation(&first, Some(&k)).await.unwrap();

        let other = OperationRecord::new("createContact", None, json!({"a": 2}));
        let reused = key("script", "k1", "h2");
        let result = store.record_operation(&other, Some(&reused)).await.unwrap();
        assert_eq!(result, Recorded::Conflict);
        assert_eq!(
            store.operation(other.id).await.unwrap(),
            None,
            "nothing written"
        );
    })
    .await;
}

#[tokio::test]
async fn idempotency_keys_are_per_subject() {
    each_store(|store| async move {
        let a = OperationRecord::new("createContact", None, json!({}));
        let b = OperationRecord::new("createContact", None, json!({}));
        let result_a = store
            .record_operation(&a, Some(&key("alice", "k", "h")))
            .await;
        let result_b = store
            .record_operation(&b, Some(&key("bob", "k", "h")))
            .await;
        assert_eq!(result_a.unwrap(), Recorded::New);
        assert_eq!(result_b.unwrap(), Recorded::New);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_record_exactly_one_operation() {
    each_store(|store| async move {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let op = OperationRecord::new("createContact", None, json!({"a": 1}));
                    let result = store
                        .record_operation(&op, Some(&key("script", "same", "h")))
                        .await;
                    (op.id, result)
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            let (id, result) = task.await.unwrap();
            results.push((
                id,
                result.expect("a concurrent retry is answered, not failed"),
            ));
        }
        let new: Vec<Uuid> = results
            .iter()
            .filter(|(_, r)| *r == Recorded::New)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(new.len(), 1, "exactly one New in {results:?}");
        for (_, result) in &results {
            assert!(
                *result == Recorded::New || *result == Recorded::Replay(new[0]),
                "{result:?}"
            );
        }
        let all = store.list_operations(None, None, 100).await.unwrap();
        assert_eq!(all.len(), 1, "one operation recorded");
    })
    .await;
}

/// Writes arriving together may share one commit: one that fails must fail alone, and every
/// other one must be stored and answered.
#[tokio::test]
async fn a_failing_write_among_concurrent_ones_fails_alone() {
    each_store(|store| async move {
        let taken = OperationRecord::new("createContact", None, json!({"n": "first"}));
        store.record_operation(&taken, None).await.unwrap();
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let store = store.clone();
                let op = if i == 12 {
                    // The same id again: the insert breaks the primary key.
                    let mut again = taken.clone();
                    again.input = json!({"n": "again"});
                    again
                } else {
                    OperationRecord::new("createContact", None, json!({ "n": i }))
                };
                tokio::spawn(async move {
                    let result = store.record_operation(&op, None).await;
                    (op, result)
                })
            })
            .collect();
        for task in tasks {
            let (op, result) = task.await.unwrap();
            if op.id == taken.id {
                assert!(result.is_err(), "a second record of one id is refused");
            } else {
                assert_eq!(result.unwrap(), Recorded::New);
                let stored_op = store.operation(op.id).await.unwrap();
                assert_eq!(stored_op.map(|o| o.input), Some(op.input));
            }
        }
        let original = store.operation(taken.id).await.unwrap().unwrap();
        assert_eq!(
            original.input,
            json!({"n": "first"}),
            "the refused write left nothing"
        );
        let all = store.list_operations(None, None, 100).await.unwrap();
        assert_eq!(all.len(), 24, "the first and the 23 others");
    })
    .await;
}

#[tokio::test]
async fn an_operation_and_its_link_are_saved_together() {
    each_store(|store| async move {
        let mut op = OperationRecord::new("createContact", None, json!({"a": 1}));
        store.insert_operation(&op).await.unwrap();
        let contact = link(EntityKind::Contact, Some("g"), None);
        op.entity_id = Some(contact.id);
        op.status = OperationStatus::Succeeded;
        op.ghl.outcome = Outcome::Succeeded;
        op.baserow.outcome = Outcome::Failed;
        op.baserow.error = Some("row gone".into());
        op.attempts = 1;
        op.next_attempt_at = None;
        op.input = json!({"a": 2});
        store.save_operation(&op, Some(&contact)).await.unwrap();

        let loaded = store.operation(op.id).await.unwrap().unwrap();
        assert_eq!(
            stored(&loaded),
            stored(&OperationRecord {
                updated_at: loaded.updated_at,
                ..op
            })
        );
        let links = store
            .links_by_ids(EntityKind::Contact, &[contact.id])
            .await
            .unwrap();
        assert_eq!(links, vec![contact]);
    })
    .await;
}

#[tokio::test]
async fn an_outcome_saves_the_audit_and_echo_notes_of_its_execution() {
    each_store(|store| async move {
        let mut op = OperationRecord::new("createContact", None, json!({"a": 1}));
        store.insert_operation(&op).await.unwrap();
        let contact = link(EntityKind::Contact, Some("g1"), Some(7));
        op.entity_id = Some(contact.id);
        op.status = OperationStatus::Succeeded;
        op.ghl.outcome = Outcome::Succeeded;
        op.baserow.outcome = Outcome::Succeeded;
        op.next_attempt_at = None;
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            at: Utc::now(),
            trigger: "mutation".into(),
            operation_id: Some(op.id),
            entity_id: Some(contact.id),
            entity_kind: EntityKind::Contact,
            system: "ghl".into(),
            action: "create".into(),
            before: None,
            after: Some(json!({"email": "a@example.com"})),
        };
        let echoes = [
            Echo {
                system: "ghl".into(),
                record_id: "g1".into(),
                fingerprint: "f1".into(),
            },
            Echo {
                system: "baserow".into(),
                record_id: "7".into(),
                fingerprint: "2026-11-27T10:00:00Z".into(),
            },
        ];
        store
            .save_outcome(&op, Some(&contact), std::slice::from_ref(&entry), &echoes)
            .await
            .unwrap();

        let loaded = store.operation(op.id).await.unwrap().unwrap();
        assert_eq!(loaded.status, OperationStatus::Succeeded);
        let audit = store
            .audit_log(Some(contact.id), None, None, 10)
            .await
            .unwrap();
        assert_eq!(audit.iter().map(|e| e.id).collect::<Vec<_>>(), [entry.id]);
        assert!(store.take_echo("ghl", "g1", "f1").await.unwrap());
        assert!(
            store
                .take_echo("baserow", "7", "2026-11-27T10:00:00Z")
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn list_operations_pages_in_creation_order_and_filters_by_status() {
    each_store(|store| async move {
        let mut ops = Vec::new();
        for i in 0..5 {
            let mut op = OperationRecord::new("updateContact", None, json!({"i": i}));
            if i % 2 == 1 {
                op.status = OperationStatus::Failed;
            }
            store.insert_operation(&op).await.unwrap();
            ops.push(op);
        }
        let ids = |list: &[OperationRecord]| list.iter().map(|o| o.id).collect::<Vec<_>>();

        let page1 = store.list_operations(None, None, 3).await.unwrap();
        let page2 = store
            .list_operations(None, Some(page1[2].id), 3)
            .await
            .unwrap();
        assert_eq!([ids(&page1), ids(&page2)].concat(), ids(&ops));

        let failed = store
            .list_operations(Some(OperationStatus::Failed), None, 10)
            .await
            .unwrap();
        assert_eq!(ids(&failed), vec![ops[1].id, ops[3].id]);
        let pending_after = store
            .list_operations(Some(OperationStatus::Pending), Some(ops[0].id), 10)
            .await
            .unwrap();
        assert_eq!(ids(&pending_after), vec![ops[2].id, ops[4].id]);
    })
    .await;
}

#[tokio::test]
async fn pending_entities_are_those_with_a_pending_operation() {
    each_store(|store| async move {
        let (busy, done, idle) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        for entity in [busy, busy, done] {
            let mut op = OperationRecord::new("updateContact", Some(entity), json!({}));
            if entity == done {
                op.status = OperationStatus::Succeeded;
            }
            store.insert_operation(&op).await.unwrap();
        }
        let pending = store.pending_entities(&[busy, done, idle]).await.unwrap();
        assert_eq!(pending, vec![busy]);
        assert!(store.pending_entities(&[]).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_create_outcome_takes_over_the_links_a_read_made_for_its_records() {
    each_store(|store| async move {
        // A read linked the new GHL contact (and a task under it) before the create's outcome
        // was saved; another entity's link to a Baserow row has an operation of its own.
        let read_made = store
            .ensure_links(&[link(EntityKind::Contact, Some("g-new"), None)])
            .await
            .unwrap()
            .remove(0);
        let mut child = link(EntityKind::Task, Some("t-1"), None);
        child.parent_id = Some(read_made.id);
        store.ensure_links(&[child]).await.unwrap();
        let owned = store
            .ensure_links(&[link(EntityKind::Contact, None, Some(41))])
            .await
            .unwrap()
            .remove(0);
        let mut other = OperationRecord::new("updateContact", Some(owned.id), json!({}));
        other.status = OperationStatus::Succeeded;
        store.insert_operation(&other).await.unwrap();

        let mut op = OperationRecord::new("createContact", None, json!({"a": 1}));
        store.insert_operation(&op).await.unwrap();
        let created = link(EntityKind::Contact, Some("g-new"), Some(40));
        op.entity_id = Some(created.id);
        op.status = OperationStatus::Succeeded;
        store
            .save_outcome(&op, Some(&created), &[], &[])
            .await
            .unwrap();
        let by_ghl = store
            .links_by_ghl_ids(EntityKind::Contact, &["g-new".into()])
            .await
            .unwrap();
        assert_eq!(
            by_ghl.iter().map(|l| l.id).collect::<Vec<_>>(),
            [created.id]
        );
        let children = store
            .links_by_parents(EntityKind::Task, &[read_made.id])
            .await
            .unwrap();
        assert!(
            children.is_empty(),
            "the taken-over link's children go with it"
        );

        // Taking the row another entity owns fails, and the outcome is not half-saved.
        let mut second = OperationRecord::new("createContact", None, json!({"b": 2}));
        store.insert_operation(&second).await.unwrap();
        let clash = link(EntityKind::Contact, None, Some(41));
        second.entity_id = Some(clash.id);
        second.status = OperationStatus::Succeeded;
        assert!(
            store
                .save_outcome(&second, Some(&clash), &[], &[])
                .await
                .is_err()
        );
        let kept = store
            .links_by_baserow_ids(EntityKind::Contact, &[41])
            .await
            .unwrap();
        assert_eq!(kept.iter().map(|l| l.id).collect::<Vec<_>>(), [owned.id]);
        let loaded = store.operation(second.id).await.unwrap().unwrap();
        assert_eq!(loaded.status, OperationStatus::Pending);
    })
    .await;
}

#[tokio::test]
async fn an_outcome_that_ends_its_entity_removes_its_link_in_the_same_commit() {
    each_store(|store| async move {
        let contact = store
            .ensure_links(&[link(EntityKind::Contact, Some("g-del"), Some(50))])
            .await
            .unwrap()
            .remove(0);
        let mut task = link(EntityKind::Task, Some("t-del"), None);
        task.parent_id = Some(contact.id);
        store.ensure_links(&[task]).await.unwrap();

        // A delete still pending keeps the link; the one that succeeded ends it, children too.
        let mut delete = OperationRecord::new("deleteContact", Some(contact.id), json!({}));
        store.insert_operation(&delete).await.unwrap();
        store.save_outcome(&delete, None, &[], &[]).await.unwrap();
        assert_eq!(
            store
                .links_by_ids(EntityKind::Contact, &[contact.id])
                .await
                .unwrap()
                .len(),
            1
        );
        delete.status = OperationStatus::Succeeded;
        store.save_outcome(&delete, None, &[], &[]).await.unwrap();
        assert!(
            store
                .links_by_ids(EntityKind::Contact, &[contact.id])
                .await
                .unwrap()
                .is_empty()
        );
        let children = store
            .links_by_parents(EntityKind::Task, &[contact.id])
            .await
            .unwrap();
        assert!(children.is_empty(), "{children:?}");

        // A create undone on the side that took it leaves no link either.
        let mut create = OperationRecord::new("createContact", None, json!({}));
        store.insert_operation(&create).await.unwrap();
        let created = link(EntityKind::Contact, Some("g-undone"), None);
        create.entity_id = Some(created.id);
        create.status = OperationStatus::Compensated;
        store
            .save_outcome(&create, Some(&created), &[], &[])
            .await
            .unwrap();
        assert!(
            store
                .links_by_ids(EntityKind::Contact, &[created.id])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.operation(create.id).await.unwrap().unwrap().status,
            OperationStatus::Compensated
        );
    })
    .await;
}
