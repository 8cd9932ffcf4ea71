//! Identity links: fill-in, look-ups, paging, removal.

use ghl_baserow_gateway::store::{EntityKind, Link, Member};

use crate::support::{each_store, link};

#[tokio::test]
async fn ensure_links_fills_the_missing_side_of_an_existing_link() {
    each_store(|store| async move {
        let ghl_only = link(EntityKind::Task, Some("t1"), None);
        let first = store
            .ensure_links(std::slice::from_ref(&ghl_only))
            .await
            .unwrap();
        assert_eq!(first, vec![ghl_only.clone()]);

        let both = link(EntityKind::Task, Some("t1"), Some(7));
        let second = store.ensure_links(&[both]).await.unwrap();
        assert_eq!(second[0].id, ghl_only.id, "the existing gateway id is kept");
        assert_eq!(second[0].baserow_row_id, Some(7));

        let by_row = store
            .links_by_baserow_ids(EntityKind::Task, &[7])
            .await
            .unwrap();
        assert_eq!(by_row, second);
    })
    .await;
}

#[tokio::test]
async fn ensure_links_keeps_a_side_that_is_already_set() {
    each_store(|store| async move {
        let parent = link(EntityKind::Contact, Some("c"), None);
        let existing = link(EntityKind::Task, Some("t1"), Some(7));
        store
            .ensure_links(&[parent.clone(), existing.clone()])
            .await
            .unwrap();

        let mut other = link(EntityKind::Task, Some("t-other"), Some(7));
        other.parent_id = Some(parent.id);
        let result = store.ensure_links(&[other]).await.unwrap();
        let expected = Link {
            parent_id: Some(parent.id),
            ..existing
        };
        assert_eq!(
            result,
            vec![expected.clone()],
            "only the parent was missing"
        );
        let by_ghl = store
            .links_by_ghl_ids(EntityKind::Task, &["t-other".into()])
            .await
            .unwrap();
        assert!(by_ghl.is_empty(), "no second link for the same row");
    })
    .await;
}

#[tokio::test]
async fn ensure_links_returns_links_in_candidate_order() {
    each_store(|store| async move {
        let old_a = link(EntityKind::Contact, Some("a"), None);
        let old_b = link(EntityKind::Contact, None, Some(2));
        store
            .ensure_links(&[old_a.clone(), old_b.clone()])
            .await
            .unwrap();

        let new_c = link(EntityKind::Contact, Some("c"), Some(3));
        let candidates = [
            link(EntityKind::Contact, None, Some(2)),
            new_c.clone(),
            link(EntityKind::Contact, Some("a"), None),
            link(EntityKind::Contact, Some("c"), None),
        ];
        let ids: Vec<_> = store
            .ensure_links(&candidates)
            .await
            .unwrap()
            .iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(ids, [old_b.id, new_c.id, old_a.id, new_c.id]);
    })
    .await;
}

#[tokio::test]
async fn look_ups_answer_only_for_their_kind() {
    each_store(|store| async move {
        let contact = link(EntityKind::Contact, Some("x"), Some(1));
        let task = link(EntityKind::Task, Some("x"), Some(1));
        store
            .ensure_links(&[contact.clone(), task.clone()])
            .await
            .unwrap();

        let by_ghl = store
            .links_by_ghl_ids(EntityKind::Task, &["x".into(), "missing".into()])
            .await
            .unwrap();
        assert_eq!(by_ghl, vec![task.clone()]);
        let by_row = store
            .links_by_baserow_ids(EntityKind::Contact, &[1, 99])
            .await
            .unwrap();
        assert_eq!(by_row, vec![contact.clone()]);
        let by_id = store
            .links_by_ids(EntityKind::Contact, &[contact.id, task.id])
            .await
            .unwrap();
        assert_eq!(by_id, vec![contact]);
        assert!(
            store
                .links_by_ids(EntityKind::Note, &[])
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn list_links_pages_in_creation_order() {
    each_store(|store| async move {
        let links: Vec<Link> = (0..5)
            .map(|i| link(EntityKind::Contact, Some(&format!("c{i}")), None))
            .collect();
        store.ensure_links(&links).await.unwrap();
        store
            .ensure_links(&[link(EntityKind::Task, Some("t"), None)])
            .await
            .unwrap();

        let page1 = store
            .list_links(EntityKind::Contact, None, 2)
            .await
            .unwrap();
        assert_eq!(page1.len(), 2);
        let page2 = store
            .list_links(EntityKind::Contact, Some(page1[1].id), 10)
            .await
            .unwrap();
        let ids: Vec<_> = page1.iter().chain(&page2).map(|l| l.id).collect();
        assert_eq!(ids, links.iter().map(|l| l.id).collect::<Vec<_>>());
        let last = links[4].id;
        let beyond = store
            .list_links(EntityKind::Contact, Some(last), 10)
            .await
            .unwrap();
        assert!(beyond.is_empty());
    })
    .await;
}

#[tokio::test]
async fn remove_links_removes_their_children_too() {
    each_store(|store| async move {
        let contact = link(EntityKind::Contact, Some("c1"), None);
        let other = link(EntityKind::Contact, Some("c2"), None);
        let mut task = link(EntityKind::Task, Some("t1"), None);
        task.parent_id = Some(contact.id);
        let mut note = link(EntityKind::Note, Some("n1"), None);
        note.parent_id = Some(contact.id);
        let mut other_task = link(EntityKind::Task, Some("t2"), None);
        other_task.parent_id = Some(other.id);
        store
            .ensure_links(&[
                contact.clone(),
                other.clone(),
                task,
                note,
                other_task.clone(),
            ])
            .await
            .unwrap();

        store.remove_links(&[contact.id]).await.unwrap();

        let contacts = store
            .list_links(EntityKind::Contact, None, 10)
            .await
            .unwrap();
        assert_eq!(contacts, vec![other]);
        let tasks = store.list_links(EntityKind::Task, None, 10).await.unwrap();
        assert_eq!(tasks, vec![other_task]);
        assert!(
            store
                .list_links(EntityKind::Note, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ensure_links_for_one_record_make_one_link() {
    each_store(|store| async move {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let candidate = link(EntityKind::Contact, Some("same"), None);
                    store.ensure_links(&[candidate]).await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap()[0].id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every caller gets the same link");
        let all = store
            .list_links(EntityKind::Contact, None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn links_by_parents_finds_the_children_of_many_parents_in_one_call() {
    each_store(|store| async move {
        let (a, b, other) = (
            link(EntityKind::Contact, Some("a"), None),
            link(EntityKind::Contact, Some("b"), None),
            link(EntityKind::Contact, Some("other"), None),
        );
        let child = |kind, ghl_id: &str, parent: &Link| Link {
            parent_id: Some(parent.id),
            ..link(kind, Some(ghl_id), None)
        };
        let children = [
            child(EntityKind::Task, "a-task", &a),
            child(EntityKind::Task, "b-task-1", &b),
            child(EntityKind::Task, "b-task-2", &b),
            child(EntityKind::Note, "a-note", &a),
            child(EntityKind::Task, "other-task", &other),
        ];
        store
            .ensure_links(&[a.clone(), b.clone(), other])
            .await
            .unwrap();
        store.ensure_links(&children).await.unwrap();

        let before = store.lookups();
        let mut found = store
            .links_by_parents(EntityKind::Task, &[a.id, b.id])
            .await
            .unwrap();
        assert_eq!(store.lookups(), before + 1, "one look-up for all parents");
        found.sort_by_key(|l| l.id);
        assert_eq!(found, children[..3].to_vec(), "tasks of a and b only");

        let notes = store
            .links_by_parents(EntityKind::Note, &[b.id])
            .await
            .unwrap();
        assert!(notes.is_empty(), "b has no notes");
    })
    .await;
}

#[tokio::test]
async fn a_business_members_are_kept_in_order_replaced_and_removed_with_it() {
    each_store(|store| async move {
        let business = link(EntityKind::Business, Some("b1"), Some(1));
        let other = link(EntityKind::Business, Some("b2"), Some(2));
        store
            .ensure_links(&[business.clone(), other.clone()])
            .await
            .unwrap();
        assert_eq!(store.business_members(business.id).await.unwrap(), None);

        let member = |ghl: Option<&str>, row: Option<i64>| Member {
            ghl_id: ghl.map(str::to_string),
            baserow_row_id: row,
        };
        let first = vec![
            member(Some("c2"), Some(12)),
            member(None, Some(11)),
            member(Some("c3"), None),
        ];
        store
            .set_business_members(business.id, &first)
            .await
            .unwrap();
        store
            .set_business_members(other.id, &[member(Some("c9"), None)])
            .await
            .unwrap();
        assert_eq!(
            store.business_members(business.id).await.unwrap(),
            Some(first)
        );

        let second = vec![member(Some("c3"), Some(13))];
        store
            .set_business_members(business.id, &second)
            .await
            .unwrap();
        assert_eq!(
            store.business_members(business.id).await.unwrap(),
            Some(second),
            "a later listing replaces the record"
        );
        store.set_business_members(business.id, &[]).await.unwrap();
        assert_eq!(
            store.business_members(business.id).await.unwrap(),
            Some(vec![]),
            "an empty listing is remembered as empty, not as never read"
        );

        store.remove_links(&[business.id]).await.unwrap();
        assert_eq!(store.business_members(business.id).await.unwrap(), None);
        assert_eq!(
            store.business_members(other.id).await.unwrap(),
            Some(vec![member(Some("c9"), None)]),
            "another business keeps its record"
        );
    })
    .await;
}
