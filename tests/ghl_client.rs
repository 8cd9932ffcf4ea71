//! The GHL client against the GHL simulator on loopback: every operation and duplicate
//! handling (resilience is in `ghl_client_resilience.rs`). The simulator is a black box here: the
//! client reaches it over HTTP only, as it reaches GHL.

use ghl_baserow_gateway::backends::CallCounter;
use ghl_baserow_gateway::backends::ghl::{
    BusinessInput, ContactUpdate, CustomFieldInput, GhlClient, GhlError, LegacyListQuery,
    NewContact, NewNote, NewTask, NoteUpdate, SearchFilter, SearchQuery, SearchSort, SortDirection,
    TaskUpdate,
};
use ghl_baserow_gateway::config::GhlConfig;
use ghl_baserow_gateway::sim::ghl::{GhlSim, GhlSimConfig};
use serde_json::json;

async fn start(config: GhlSimConfig) -> GhlSim {
    GhlSim::start(([127, 0, 0, 1], 0).into(), config.with_generated_tokens())
        .await
        .expect("the simulator starts")
}

fn config(sim: &GhlSim, token: &str, oauth: bool) -> GhlConfig {
    let (client_id, client_secret) = sim.oauth_client();
    let mut value = json!({
        "base_url": sim.base_url(),
        "location_id": sim.location_id(),
        "token": token,
        "timeout_ms": 2000,
    });
    if oauth {
        value["oauth"] = json!({"client_id": client_id, "client_secret": client_secret});
    }
    serde_json::from_value(value).expect("a valid GHL config")
}

fn full(sim: &GhlSim) -> GhlClient {
    GhlClient::new(
        &config(sim, &sim.tokens()[0].0, false),
        CallCounter::default(),
    )
    .expect("client builds")
}

fn ada() -> NewContact {
    NewContact {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("ada@example.com".into()),
        phone: Some("+14155550100".into()),
        company_name: Some("Analytical Engines".into()),
        tags: vec!["vip".into()],
        city: Some("London".into()),
        source: Some("gateway".into()),
        ..NewContact::default()
    }
}

#[tokio::test]
async fn contacts_are_created_read_updated_upserted_and_deleted() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let created = ghl.create_contact(&ada()).await.unwrap();
    assert_eq!(created.email.as_deref(), Some("ada@example.com"));
    assert_eq!(created.location_id.as_deref(), Some(sim.location_id()));

    let read = ghl.get_contact(&created.id).await.unwrap().unwrap();
    assert_eq!(read.first_name.as_deref(), Some("Ada"));
    assert_eq!(read.tags, vec!["vip".to_string()]);

    let update = ContactUpdate {
        city: Some("Paris".into()),
        custom_fields: Some(vec![CustomFieldInput {
            id: Some("cf-1".into()),
            key: None,
            field_value: json!("blue"),
        }]),
        ..ContactUpdate::default()
    };
    let updated = ghl.update_contact(&created.id, &update).await.unwrap();
    assert_eq!(updated.city.as_deref(), Some("Paris"));

    let again = ghl.upsert_contact(&ada()).await.unwrap();
    assert!(!again.created, "the email matches: upsert updates");
    assert_eq!(again.contact.id, created.id);
    let other = NewContact {
        email: Some("grace@example.com".into()),
        ..NewContact::default()
    };
    assert!(ghl.upsert_contact(&other).await.unwrap().created);

    ghl.delete_contact(&created.id).await.unwrap();
    assert_eq!(ghl.get_contact(&created.id).await.unwrap(), None);
    assert_eq!(
        ghl.delete_contact(&created.id).await,
        Err(GhlError::NotFound)
    );
}

#[tokio::test]
async fn tags_are_added_and_removed() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let c = ghl.create_contact(&ada()).await.unwrap();
    let tags = ghl
        .add_tags(&c.id, &["a".into(), "b".into()])
        .await
        .unwrap();
    assert!(tags.contains(&"a".to_string()) && tags.contains(&"vip".to_string()));
    let tags = ghl.remove_tags(&c.id, &["a".into()]).await.unwrap();
    assert!(!tags.contains(&"a".to_string()) && tags.contains(&"b".to_string()));
    let bulk = ghl
        .bulk_update_tags(std::slice::from_ref(&c.id), &["c".into()], true, false)
        .await
        .unwrap();
    assert!(bulk.succeded);
    assert_eq!(bulk.error_count, 0);
}

#[tokio::test]
async fn tasks_live_their_whole_life() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let c = ghl.create_contact(&ada()).await.unwrap();
    let new = NewTask {
        title: "Call back".into(),
        body: Some("about the engine".into()),
        due_date: "2030-01-01T10:00:00Z".into(),
        completed: false,
        assigned_to: None,
    };
    let task = ghl.create_task(&c.id, &new).await.unwrap();
    assert_eq!(ghl.list_tasks(&c.id).await.unwrap().len(), 1);
    let got = ghl.get_task(&c.id, &task.id).await.unwrap().unwrap();
    assert_eq!(got.title.as_deref(), Some("Call back"));
    let update = TaskUpdate {
        title: Some("Call twice".into()),
        ..TaskUpdate::default()
    };
    let updated = ghl.update_task(&c.id, &task.id, &update).await.unwrap();
    assert_eq!(updated.title.as_deref(), Some("Call twice"));
    assert!(
        ghl.complete_task(&c.id, &task.id, true)
            .await
            .unwrap()
            .completed
    );
    ghl.delete_task(&c.id, &task.id).await.unwrap();
    assert_eq!(ghl.get_task(&c.id, &task.id).await.unwrap(), None);
}

#[tokio::test]
async fn notes_live_their_whole_life() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let c = ghl.create_contact(&ada()).await.unwrap();
    let new = NewNote {
        body: "Met at the fair".into(),
        title: Some("Fair".into()),
        ..NewNote::default()
    };
    let note = ghl.create_note(&c.id, &new).await.unwrap();
    assert_eq!(ghl.list_notes(&c.id).await.unwrap().len(), 1);
    let update = NoteUpdate {
        body: Some("Met at the fair, twice".into()),
        ..NoteUpdate::default()
    };
    let updated = ghl.update_note(&c.id, &note.id, &update).await.unwrap();
    assert_eq!(updated.body.as_deref(), Some("Met at the fair, twice"));
    assert!(ghl.get_note(&c.id, &note.id).await.unwrap().is_some());
    ghl.delete_note(&c.id, &note.id).await.unwrap();
    assert!(ghl.list_notes(&c.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn appointments_are_listed() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let c = ghl.create_contact(&ada()).await.unwrap();
    sim.seed_appointment(&c.id, json!({"title": "Demo"}));
    let events = ghl.list_appointments(&c.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title.as_deref(), Some("Demo"));
}

#[tokio::test]
async fn businesses_are_managed_and_linked_to_contacts() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let input = BusinessInput {
        name: Some("Analytical Engines".into()),
        city: Some("London".into()),
        ..BusinessInput::default()
    };
    let b = ghl.create_business(&input).await.unwrap();
    assert_eq!(b.name.as_deref(), Some("Analytical Engines"));
    let renamed = BusinessInput {
        name: Some("Difference Engines".into()),
        ..BusinessInput::default()
    };
    assert_eq!(
        ghl.update_business(&b.id, &renamed)
            .await
            .unwrap()
            .name
            .as_deref(),
        Some("Difference Engines")
    );
    assert!(ghl.get_business(&b.id).await.unwrap().is_some());
    assert_eq!(ghl.list_businesses(10, 0).await.unwrap().len(), 1);
    assert_eq!(ghl.list_all_businesses().await.unwrap().len(), 1);

    let c = ghl.create_contact(&ada()).await.unwrap();
    let linked = ghl
        .link_contacts_to_business(std::slice::from_ref(&c.id), Some(&b.id))
        .await
        .unwrap();
    assert_eq!(linked.ids, vec![c.id.clone()]);
    let page = ghl.contacts_of_business(&b.id, 10, 0, None).await.unwrap();
    assert_eq!(page.count, 1);
    assert_eq!(page.contacts[0].id, c.id);

    ghl.delete_business(&b.id).await.unwrap();
    assert_eq!(ghl.get_business(&b.id).await.unwrap(), None);
}

#[tokio::test]
async fn search_pages_then_continues_with_search_after() {
    let sim = start(GhlSimConfig::default()).await;
    for i in 0..23 {
        sim.seed_contact(
            json!({"firstName": format!("P{i:02}"), "email": format!("p{i}@example.com")}),
        );
    }
    let ghl = full(&sim);
    let query = SearchQuery {
        sort: vec![SearchSort {
            field: "dateAdded".into(),
            direction: SortDirection::Asc,
        }],
        page_limit: 5,
        ..SearchQuery::default()
    };
    let mut pager = ghl.search_contacts(query);
    // Pages 1 and 2 by number, the rest by searchAfter (GHL's window is 10,000).
    pager.page_window = 10;
    let all = pager.collect().await.unwrap();
    let mut ids: Vec<_> = all.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 23);

    let filtered = ghl
        .search_contacts(SearchQuery {
            filters: vec![SearchFilter::eq("email", "p7@example.com")],
            ..SearchQuery::default()
        })
        .collect()
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].first_name.as_deref(), Some("P07"));
}

#[tokio::test]
async fn the_deprecated_listing_pages_with_its_cursor() {
    let sim = start(GhlSimConfig::default()).await;
    for i in 0..5 {
        sim.seed_contact(json!({"firstName": format!("L{i}")}));
    }
    let ghl = full(&sim);
    let first = ghl
        .list_contacts_deprecated(&LegacyListQuery {
            limit: Some(3),
            ..LegacyListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.contacts.len(), 3);
    let meta = first.meta.unwrap();
    let rest = ghl
        .list_contacts_deprecated(&LegacyListQuery {
            limit: Some(3),
            start_after: meta.start_after,
            start_after_id: meta.start_after_id,
            ..LegacyListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.contacts.len(), 2);
}

#[tokio::test]
async fn a_duplicate_create_names_the_existing_contact() {
    let sim = start(GhlSimConfig::default()).await;
    let ghl = full(&sim);
    let first = ghl.create_contact(&ada()).await.unwrap();
    match ghl.create_contact(&ada()).await {
        Err(GhlError::Duplicate {
            existing_id,
            matching_field,
        }) => {
            assert_eq!(existing_id, first.id);
            assert!(!matching_field.is_empty());
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
}
