//! The audit trail, the event inbox, the echo ledger and sync state.

use std::{collections::HashSet, time::Duration};

use chrono::{DurationRound, TimeDelta, Utc};
use ghl_baserow_gateway::store::{AuditEntry, EntityKind};
use serde_json::json;
use uuid::Uuid;

use crate::support::each_store;

const LONG: Duration = Duration::from_secs(60);

fn audit(entity_id: Option<Uuid>, minutes_ago: i64) -> AuditEntry {
    let at = (Utc::now() - chrono::Duration::minutes(minutes_ago))
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("timestamp in range");
    AuditEntry {
        id: Uuid::now_v7(),
        at,
        trigger: "mutation".into(),
        operation_id: Some(Uuid::now_v7()),
        entity_id,
        entity_kind: EntityKind::Contact,
        system: "ghl".into(),
        action: "update".into(),
        before: Some(json!({"name": "A"})),
        after: Some(json!({"name": "B"})),
    }
}

#[tokio::test]
async fn the_audit_log_filters_by_entity_and_time_and_pages_in_order() {
    each_store(|store| async move {
        let entity = Uuid::now_v7();
        let old = audit(Some(entity), 60);
        let other = AuditEntry {
            before: None,
            after: None,
            operation_id: None,
            ..audit(None, 30)
        };
        let recent = audit(Some(entity), 1);
        store
            .record_audit(&[old.clone(), other.clone(), recent.clone()])
            .await
            .unwrap();

        let all = store.audit_log(None, None, None, 10).await.unwrap();
        assert_eq!(all, vec![old.clone(), other.clone(), recent.clone()]);
        let mine = store.audit_log(Some(entity), None, None, 10).await.unwrap();
        assert_eq!(mine, vec![old.clone(), recent.clone()]);
        let since = Utc::now() - chrono::Duration::minutes(45);
        let lately = store.audit_log(None, Some(since), None, 10).await.unwrap();
        assert_eq!(lately, vec![other, recent.clone()]);
        let page = store
            .audit_log(Some(entity), None, Some(old.id), 1)
            .await
            .unwrap();
        assert_eq!(page, vec![recent]);
    })
    .await;
}

#[tokio::test]
async fn an_event_key_is_accepted_once_per_source() {
    each_store(|store| async move {
        let payload = json!({"type": "ContactUpdate", "id": "c1"});
        assert!(store.enqueue_event("ghl", "w1", &payload).await.unwrap());
        assert!(!store.enqueue_event("ghl", "w1", &payload).await.unwrap());
        assert!(
            store
                .enqueue_event("baserow", "w1", &payload)
                .await
                .unwrap()
        );
        assert_eq!(store.pending_event_count().await.unwrap(), 2);

        let events = store.claim_events(LONG, 10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].source.as_str(), events[0].attempts), ("ghl", 0));
        assert_eq!(events[0].payload, payload);
        assert!(
            store.claim_events(LONG, 10).await.unwrap().is_empty(),
            "leased"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_event_claimers_never_get_the_same_event() {
    each_store(|store| async move {
        for i in 0..20 {
            store
                .enqueue_event("ghl", &format!("w{i}"), &json!({}))
                .await
                .unwrap();
        }
        let claimers: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store.claim_events(LONG, 3).await.unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|e| e.id));
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
        assert_eq!(seen.len(), 20);
    })
    .await;
}

#[tokio::test]
async fn a_failed_event_is_retried_after_a_delay_until_its_attempts_run_out() {
    each_store(|store| async move {
        store.enqueue_event("ghl", "w1", &json!({})).await.unwrap();
        let retry = Duration::from_millis(300);

        let first = store.claim_events(LONG, 1).await.unwrap().remove(0);
        store
            .finish_event(first.id, Some("GHL 503"), retry, 2)
            .await
            .unwrap();
        assert_eq!(store.pending_event_count().await.unwrap(), 1);
        assert!(
            store.claim_events(LONG, 1).await.unwrap().is_empty(),
            "not before the delay"
        );

        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = store.claim_events(LONG, 1).await.unwrap().remove(0);
        assert_eq!((second.id, second.attempts), (first.id, 1));
        store
            .finish_event(second.id, Some("GHL 503"), retry, 2)
            .await
            .unwrap();
        assert_eq!(store.pending_event_count().await.unwrap(), 0, "given up");
    })
    .await;
}

#[tokio::test]
async fn a_processed_event_is_done() {
    each_store(|store| async move {
        store.enqueue_event("ghl", "w1", &json!({})).await.unwrap();
        let event = store.claim_events(LONG, 1).await.unwrap().remove(0);
        store.finish_event(event.id, None, LONG, 5).await.unwrap();
        assert_eq!(store.pending_event_count().await.unwrap(), 0);
        assert!(
            store
                .claim_events(Duration::ZERO, 1)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn an_echo_is_recognised_once() {
    each_store(|store| async move {
        store.record_echo("ghl", "c1", "f1").await.unwrap();
        store.record_echo("ghl", "c1", "f1").await.unwrap();
        assert!(!store.take_echo("ghl", "c1", "other").await.unwrap());
        assert!(!store.take_echo("baserow", "c1", "f1").await.unwrap());
        assert!(store.take_echo("ghl", "c1", "f1").await.unwrap());
        assert!(!store.take_echo("ghl", "c1", "f1").await.unwrap(), "taken");
    })
    .await;
}

#[tokio::test]
async fn sync_state_keeps_the_last_value() {
    each_store(|store| async move {
        assert_eq!(store.get_state("ghl.watermark").await.unwrap(), None);
        store.set_state("ghl.watermark", "1").await.unwrap();
        store.set_state("ghl.watermark", "2").await.unwrap();
        assert_eq!(
            store.get_state("ghl.watermark").await.unwrap().as_deref(),
            Some("2")
        );
    })
    .await;
}
