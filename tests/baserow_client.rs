//! The Baserow client against the in-process Baserow simulator, over HTTP on loopback.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use ghl_baserow_gateway::{
    backends::{
        CallCounter,
        baserow::{
            BaserowClient, BaserowError, ContactRow, Table, TableId, TaskRow,
            admin::{AdminClient, AdminCredentials},
            fields::{CellValue, FieldType, SelectRef, WriteValue},
            provision::{ProvisionRequest, Provisioned, provision},
            schema::CONTACT_LINK_FIELD,
        },
    },
    config::BaserowConfig,
    sim::baserow::{BaserowFaults, BaserowSim, BaserowSimConfig, RateLimits},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

struct Env {
    sim: BaserowSim,
    provisioned: Provisioned,
    client: BaserowClient,
    calls: CallCounter,
}

impl Env {
    fn config(&self, token: &str, extra: Value) -> BaserowConfig {
        let t = self.provisioned.tables;
        let mut config = json!({
            "base_url": self.sim.base_url(), "token": token, "timeout_ms": 2000,
            "tables": {"contacts": t.contacts, "tasks": t.tasks, "notes": t.notes, "businesses": t.businesses},
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        serde_json::from_value(config).unwrap()
    }

    fn client(&self, token: &str, extra: Value) -> (BaserowClient, CallCounter) {
        let calls = CallCounter::default();
        let client = BaserowClient::new(&self.config(token, extra), calls.clone()).unwrap();
        (client, calls)
    }

    async fn admin(&self) -> AdminClient {
        let credentials = AdminCredentials::Password {
            email: "admin@example.com".into(),
            password: SecretString::from("password".to_string()),
        };
        AdminClient::connect(&self.sim.base_url().parse().unwrap(), &credentials)
            .await
            .unwrap()
    }

    fn count(&self, operation: &str) -> u64 {
        self.calls
            .snapshot()
            .get(&format!("baserow.{operation}"))
            .copied()
            .unwrap_or(0)
    }
}

async fn start_with(config: BaserowSimConfig) -> Env {
    let sim = BaserowSim::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let provisioned = provision(&ProvisionRequest {
        base_url: sim.base_url().parse().unwrap(),
        email: "admin@example.com".into(),
        password: SecretString::from("password".to_string()),
        workspace: "Test".into(),
        database: "CRM".into(),
    })
    .await
    .unwrap();
    let calls = CallCounter::default();
    let mut env = Env {
        client: BaserowClient::new(
            &serde_json::from_value::<BaserowConfig>(json!({"token": "x", "tables": {"contacts": 1, "tasks": 1, "notes": 1, "businesses": 1}})).unwrap(),
            calls.clone(),
        )
        .unwrap(),
        sim,
        provisioned,
        calls,
    };
    let (client, calls) = env.client(env.provisioned.token.expose_secret(), json!({}));
    env.client = client;
    env.calls = calls;
    env
}

async fn start() -> Env {
    start_with(BaserowSimConfig::default()).await
}

fn contact(i: usize) -> Value {
    json!({"name": format!("Person {i}"), "email": format!("p{i}@example.com"), "ghl_id": format!("ghl-{i}")})
}

async fn contacts(env: &Env, n: usize) -> Vec<ContactRow> {
    let items: Vec<Value> = (0..n).map(contact).collect();
    env.client
        .create_rows(Table::Contacts, &items, false)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_created_row_reads_back_typed_with_its_links() {
    let env = start().await;
    let business: Value = env
        .client
        .create_row(Table::Businesses, &json!({"name": "Acme"}), false)
        .await
        .unwrap();
    let body = json!({"name": "Ada", "email": "ada@example.com", "business": [business["id"]]});
    let created: ContactRow = env
        .client
        .create_row(Table::Contacts, &body, false)
        .await
        .unwrap();
    let read: ContactRow = env
        .client
        .get_row(Table::Contacts, created.id)
        .await
        .unwrap();
    assert_eq!(read.name.as_deref(), Some("Ada"));
    assert_eq!(read.business.len(), 1);
    assert_eq!(read.business[0].value, Some(json!("Acme")));
    assert!(read.business[0].order.is_some());
    assert!(read.last_modified.is_some());
}

#[tokio::test]
async fn every_field_type_converts_both_ways() {
    let env = start().await;
    let admin = env.admin().await;
    let ws = admin.workspaces().await.unwrap()[0].id;
    let db = admin.databases(ws).await.unwrap()[0].id;
    let table = admin.create_table(db, "Kitchen", "name").await.unwrap().id;
    for field in [
        json!({"name": "notes", "type": "long_text"}),
        json!({"name": "email", "type": "email"}),
        json!({"name": "phone", "type": "phone_number"}),
        json!({"name": "site", "type": "url"}),
        json!({"name": "day", "type": "date", "date_include_time": false}),
        json!({"name": "at", "type": "date", "date_include_time": true}),
        json!({"name": "done", "type": "boolean"}),
        json!({"name": "price", "type": "number", "number_decimal_places": 2}),
        json!({"name": "heat", "type": "single_select", "select_options": [{"value": "Hot", "color": "red"}, {"value": "Cold", "color": "blue"}]}),
        json!({"name": "tags", "type": "multiple_select", "select_options": [{"value": "a", "color": "red"}, {"value": "b", "color": "blue"}]}),
        json!({"name": "who", "type": "link_row", "link_row_table_id": env.provisioned.tables.contacts, "has_related_field": false}),
        json!({"name": "created_on", "type": "created_on", "date_include_time": true}),
        json!({"name": "last_modified", "type": "last_modified", "date_include_time": true}),
        json!({"name": "row_id", "type": "formula", "formula": "row_id()"}),
    ] {
        admin.create_field(table, &field).await.unwrap();
    }
    let key = admin.create_token("all", ws).await.unwrap().key;
    let (client, _) = env.client(key.expose_secret(), json!({}));
    let people = contacts(&env, 1).await;
    let fields = client.fields(TableId(table)).await.unwrap();
    let raw_fields = admin.fields(table).await.unwrap();
    let option = |name: &str| {
        let field = raw_fields.iter().find(|f| f["name"] == name).unwrap();
        field["select_options"][1]["id"].as_u64().unwrap()
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 0).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let writes = [
        ("name", WriteValue::Text("Kettle".into())),
        ("notes", WriteValue::Text("line 1\nline 2".into())),
        ("email", WriteValue::Text("k@example.com".into())),
        ("phone", WriteValue::Text("+1 415 555 0100".into())),
        ("site", WriteValue::Text("https://example.com".into())),
        ("day", WriteValue::Date(day)),
        ("at", WriteValue::DateTime(at)),
        ("done", WriteValue::Boolean(true)),
        ("price", WriteValue::Number(9.5)),
        ("heat", WriteValue::Select(SelectRef::Value("Hot".into()))),
        (
            "tags",
            WriteValue::Selects(vec![
                SelectRef::Value("a".into()),
                SelectRef::Id(option("tags")),
            ]),
        ),
        ("who", WriteValue::Links(vec![people[0].id])),
    ];
    let mut body: serde_json::Map<String, Value> = writes
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_json()))
        .collect();
    // Read-only fields in a body are left out, not sent (Baserow would answer 400).
    body.insert("last_modified".into(), json!("2020-01-01T00:00:00Z"));
    body.insert("created_on".into(), json!("2020-01-01T00:00:00Z"));
    let created: Value = client
        .create_row(TableId(table), &body, false)
        .await
        .unwrap();
    let row: Value = client
        .get_row(TableId(table), created["id"].as_i64().unwrap())
        .await
        .unwrap();
    let read = |name: &str| {
        let meta = fields.iter().find(|f| f.name == name).unwrap();
        CellValue::read(&meta.kind, &row[name]).unwrap()
    };
    assert_eq!(read("name"), CellValue::Text("Kettle".into()));
    assert_eq!(read("notes"), CellValue::Text("line 1\nline 2".into()));
    assert_eq!(read("email"), CellValue::Text("k@example.com".into()));
    assert_eq!(read("site"), CellValue::Text("https://example.com".into()));
    assert_eq!(read("day"), CellValue::Date(day));
    assert_eq!(read("at"), CellValue::DateTime(at));
    assert_eq!(read("done"), CellValue::Boolean(true));
    assert_eq!(
        row["price"],
        json!("9.50"),
        "numbers read as decimal strings"
    );
    assert_eq!(read("price"), CellValue::Number(9.5));
    assert!(matches!(read("heat"), CellValue::Select(o) if o.value == "Hot" && o.color == "red"));
    assert!(matches!(read("tags"), CellValue::Selects(list) if list.len() == 2));
    assert!(matches!(read("who"), CellValue::Links(l) if l.len() == 1 && l[0].id == people[0].id));
    assert!(matches!(read("created_on"), CellValue::DateTime(t) if t.timestamp() > 1_700_000_000));
    assert!(matches!(read("last_modified"), CellValue::DateTime(_)));
    assert_eq!(
        read("row_id"),
        CellValue::RowId(created["id"].as_i64().unwrap())
    );
    assert!(fields.iter().any(|f| f.kind
        == FieldType::Date {
            include_time: false
        }));

    let heat_cold = option("heat");
    let updated: Value = client
        .update_row(
            TableId(table),
            created["id"].as_i64().unwrap(),
            &json!({"heat": heat_cold, "price": "3.25"}),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        updated["heat"]["value"],
        json!("Cold"),
        "a select is written by option id too"
    );
    assert_eq!(updated["price"], json!("3.25"));
}

#[tokio::test]
async fn reads_by_id_take_one_call_per_fifty_ids() {
    let env = start().await;
    let rows = contacts(&env, 120).await;
    env.calls.reset();
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ids.push(999_999);
    let read: Vec<ContactRow> = env.client.rows_by_ids(Table::Contacts, &ids).await.unwrap();
    assert_eq!(read.len(), 120, "missing ids are simply absent");
    assert_eq!(env.calls.total("baserow"), 3);
}

#[tokio::test]
async fn listing_follows_pages_of_two_hundred_and_writes_batch_two_hundred() {
    let env = start().await;
    contacts(&env, 450).await;
    assert_eq!(
        env.count("createRows"),
        3,
        "450 rows in batches of at most 200"
    );
    env.calls.reset();
    let all: Vec<ContactRow> = env.client.list_rows(Table::Contacts, None).await.unwrap();
    assert_eq!(all.len(), 450);
    assert_eq!(env.calls.total("baserow"), 3);
}

#[tokio::test]
async fn rows_are_found_by_ghl_id_and_by_parent_link() {
    let env = start().await;
    let people = contacts(&env, 3).await;
    let found: Vec<ContactRow> = env
        .client
        .rows_by_ghl_ids(Table::Contacts, &["ghl-2".into(), "GHL-1".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "equal is case-sensitive");
    assert_eq!(found[0].ghl_id.as_deref(), Some("ghl-2"));
    let tasks: Vec<Value> = (0..3)
        .map(|i| json!({"title": format!("t{i}"), CONTACT_LINK_FIELD: [people[i % 2].id]}))
        .collect();
    env.client
        .create_rows::<TaskRow>(Table::Tasks, &tasks, false)
        .await
        .unwrap();
    let linked: Vec<TaskRow> = env
        .client
        .rows_linked_to(Table::Tasks, CONTACT_LINK_FIELD, &[people[0].id])
        .await
        .unwrap();
    assert_eq!(linked.len(), 2);
}

#[tokio::test]
async fn rows_modified_since_an_instant_are_filtered_exactly() {
    let env = start().await;
    let people = contacts(&env, 3).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = Utc::now();
    env.client
        .update_row::<ContactRow>(
            Table::Contacts,
            people[1].id,
            &json!({"first_name": "B"}),
            false,
        )
        .await
        .unwrap();
    let changed: Vec<ContactRow> = env
        .client
        .rows_modified_since(Table::Contacts, since)
        .await
        .unwrap();
    assert_eq!(
        changed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![people[1].id]
    );
}

#[tokio::test]
async fn batch_update_and_delete_and_single_delete() {
    let env = start().await;
    let people = contacts(&env, 250).await;
    let items: Vec<Value> = people
        .iter()
        .map(|p| json!({"id": p.id, "first_name": "X"}))
        .collect();
    let updated: Vec<ContactRow> = env
        .client
        .update_rows(Table::Contacts, &items, false)
        .await
        .unwrap();
    assert!(updated.iter().all(|r| r.first_name.as_deref() == Some("X")));
    assert_eq!(env.count("updateRows"), 2);
    let ids: Vec<i64> = people[..240].iter().map(|p| p.id).collect();
    env.client
        .delete_rows(Table::Contacts, &ids, false)
        .await
        .unwrap();
    env.client
        .delete_row(Table::Contacts, people[240].id, false)
        .await
        .unwrap();
    assert_eq!(env.sim.rows(env.provisioned.tables.contacts).len(), 9);
    let missing = env
        .client
        .get_row::<ContactRow>(Table::Contacts, people[0].id)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, BaserowError::NotFound { code, .. } if code == "ERROR_ROW_DOES_NOT_EXIST"),
        "{missing}"
    );
    let batch = vec![
        json!({"id": people[249].id, "first_name": "Y"}),
        json!({"id": people[0].id, "first_name": "Y"}),
    ];
    let err = env
        .client
        .update_rows::<ContactRow>(Table::Contacts, &batch, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ERROR_ROW_DOES_NOT_EXIST"));
}

#[tokio::test]
async fn a_page_over_two_hundred_is_a_typed_error() {
    let env = start().await;
    let err = env
        .client
        .list_page::<Value>(Table::Contacts, 1, 201, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BaserowError::Validation { code, .. } if code == "ERROR_PAGE_SIZE_LIMIT"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_token_and_a_table_without_permission_are_auth_errors() {
    let env = start().await;
    let (stranger, _) = env.client(&"x".repeat(32), json!({}));
    let err = stranger
        .get_row::<Value>(Table::Contacts, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BaserowError::Auth { code, .. } if code == "ERROR_TOKEN_DOES_NOT_EXIST"),
        "{err}"
    );
    assert!(
        !format!("{err} {err:?} {stranger:?}").contains(&"x".repeat(32)),
        "no token in messages"
    );
    let admin = env.admin().await;
    let ws = admin.workspaces().await.unwrap()[0].id;
    let db = admin.databases(ws).await.unwrap()[0].id;
    let other = admin.create_table(db, "Other", "name").await.unwrap().id;
    let err = env
        .client
        .list_page::<Value>(TableId(other), 1, 10, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BaserowError::Auth { code, .. } if code == "ERROR_NO_PERMISSION_TO_TABLE"),
        "{err}"
    );
    let shown = format!("{:?}", env.client);
    assert!(
        !shown.contains(env.provisioned.token.expose_secret()),
        "{shown}"
    );
}

#[tokio::test]
async fn per_item_validation_errors_are_indexed_in_the_whole_input() {
    let env = start().await;
    let mut items: Vec<Value> = (0..250).map(contact).collect();
    items[210]["email"] = json!("not an email");
    let err = env
        .client
        .create_rows::<ContactRow>(Table::Contacts, &items, false)
        .await
        .unwrap_err();
    let BaserowError::Validation { code, items, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(code, "ERROR_REQUEST_BODY_VALIDATION");
    assert!(
        items.get(&210).is_some_and(|f| f.contains_key("email")),
        "{items:?}"
    );
    let single = env
        .client
        .create_row::<ContactRow>(Table::Contacts, &json!({"email": "nope"}), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&single, BaserowError::Validation { fields, .. } if fields.contains_key("email")),
        "{single}"
    );
}

#[tokio::test]
async fn a_link_to_a_missing_row_is_refused_before_writing() {
    let env = start().await;
    let people = contacts(&env, 1).await;
    let body = json!({"title": "t", CONTACT_LINK_FIELD: [people[0].id, 424_242]});
    let err = env
        .client
        .create_row::<TaskRow>(Table::Tasks, &body, false)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BaserowError::InvalidLinks { field, missing, .. } if field == "contact" && missing == &vec![424_242]),
        "{err}"
    );
    assert_eq!(env.count("createRow"), 0);
    assert!(env.sim.rows(env.provisioned.tables.tasks).is_empty());
    let task: TaskRow = env
        .client
        .create_row(
            Table::Tasks,
            &json!({"title": "ok", CONTACT_LINK_FIELD: [people[0].id]}),
            false,
        )
        .await
        .unwrap();
    let err = env
        .client
        .update_rows::<TaskRow>(
            Table::Tasks,
            &[json!({"id": task.id, CONTACT_LINK_FIELD: [77_777]})],
            false,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BaserowError::InvalidLinks { .. }));
}

#[tokio::test]
async fn unknown_fields_are_refused_instead_of_silently_dropped() {
    let env = start().await;
    let err = env
        .client
        .create_row::<Value>(Table::Contacts, &json!({"nmae": "typo"}), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BaserowError::UnknownFields { fields, .. } if fields == &vec!["nmae".to_string()]),
        "{err}"
    );
    // A reverse link field Baserow added is found by reading the real field list.
    let ok: Value = env
        .client
        .create_row(Table::Contacts, &json!({"Tasks": []}), false)
        .await
        .unwrap();
    assert!(ok["id"].is_i64());
}

#[tokio::test]
async fn idempotent_calls_are_retried_and_creates_are_not() {
    let env = start().await;
    env.sim.set_faults(BaserowFaults {
        error_rate: 1.0,
        ..Default::default()
    });
    let before = env.sim.request_count();
    let err = env
        .client
        .get_row::<Value>(Table::Contacts, 1)
        .await
        .unwrap_err();
    assert!(matches!(err, BaserowError::Unavailable(_)), "{err}");
    assert_eq!(env.sim.request_count() - before, 3, "three attempts");
    let before = env.sim.request_count();
    env.client
        .create_row::<Value>(Table::Contacts, &json!({"name": "x"}), false)
        .await
        .unwrap_err();
    assert_eq!(env.sim.request_count() - before, 1, "a create is sent once");
}

#[tokio::test]
async fn a_hung_call_times_out() {
    let env = start().await;
    let (client, _) = env.client(
        env.provisioned.token.expose_secret(),
        json!({"timeout_ms": 200}),
    );
    env.sim.set_faults(BaserowFaults {
        hang_rate: 1.0,
        ..Default::default()
    });
    let err = client
        .create_row::<Value>(Table::Contacts, &json!({"name": "x"}), false)
        .await
        .unwrap_err();
    assert!(matches!(err, BaserowError::Timeout), "{err}");
}

#[tokio::test]
async fn the_concurrency_cap_keeps_a_throttling_server_happy_and_pacing_spaces_calls() {
    let env = start_with(BaserowSimConfig {
        limits: Some(RateLimits {
            max_concurrent: 3,
            requests_per_second: 1000,
        }),
        faults: BaserowFaults {
            latency: Duration::from_millis(20),
            ..Default::default()
        },
        ..BaserowSimConfig::default()
    })
    .await;
    let people = contacts(&env, 400).await;
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let (capped, calls) = env.client(
        env.provisioned.token.expose_secret(),
        json!({"max_concurrency": 3}),
    );
    let read: Vec<ContactRow> = capped.rows_by_ids(Table::Contacts, &ids).await.unwrap();
    assert_eq!(read.len(), 400);
    assert_eq!(calls.total("baserow"), 8);
    let (paced, _) = env.client(
        env.provisioned.token.expose_secret(),
        json!({"requests_per_second": 20.0}),
    );
    let started = std::time::Instant::now();
    let _: Vec<ContactRow> = paced.rows_by_ids(Table::Contacts, &ids).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(340),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn writes_can_run_on_spawned_tasks() {
    let env = start().await;
    let client = env.client.clone();
    let handle = tokio::spawn(async move {
        client
            .create_rows::<ContactRow>(Table::Contacts, &[contact(1)], false)
            .await
    });
    assert_eq!(handle.await.unwrap().unwrap().len(), 1);
}
