//! Batch sync: the initial full sync, the integrity check, the business push and the audit
//! export, over the demo's 20 linked contacts.

use std::process::Command;

use ghl_baserow_gateway::{
    backends::baserow::{ContactRow, Table},
    store::{EntityKind, Link},
    sync::{
        audit_export,
        business::sync_business,
        full::{FullSyncOptions, PlannedAction, full_sync},
        verify::{Category, VerifyOptions, verify, verify_with},
    },
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// The demo without the poller, so upstream call counts are the sync's own.
async fn quiet_app() -> TestApp {
    spawn_app_with(|c| c.sync.poll_interval_secs = 0).await
}

/// What a dry run must leave exactly as it was: records on both sides, links, operations.
async fn state_of(app: &TestApp) -> (usize, usize, usize, usize) {
    let store = &app.gateway.store;
    let links = store
        .list_links(EntityKind::Contact, None, 10_000)
        .await
        .unwrap();
    let ops = store.list_operations(None, None, 10_000).await.unwrap();
    let rows = app
        .baserow
        .rows(app.gateway.baserow.table_id(Table::Contacts));
    (app.ghl.contacts().len(), rows.len(), links.len(), ops.len())
}

async fn new_row(app: &TestApp, body: Value) -> ContactRow {
    app.gateway
        .baserow
        .create_row(Table::Contacts, &body, false)
        .await
        .unwrap()
}

fn seed_ghl(app: &TestApp, body: Value) -> String {
    let created = app.ghl.seed_contact(body);
    created["id"].as_str().expect("seeded contact").to_string()
}

async fn contact_links(app: &TestApp) -> Vec<Link> {
    app.gateway
        .store
        .list_links(EntityKind::Contact, None, 10_000)
        .await
        .unwrap()
}

fn ghl_writes(app: &TestApp) -> u64 {
    let routes = app.ghl.requests_by_route();
    routes
        .iter()
        .filter(|(route, _)| !route.starts_with("GET") && !route.ends_with("/search"))
        .map(|(_, n)| n)
        .sum()
}

/// A config file pointing at the test's simulators and store, for the real binary.
fn config_file(app: &TestApp) -> std::path::PathBuf {
    let c = &app.gateway.config;
    let t = &c.baserow.tables;
    let text = format!(
        "[auth]\njwt_secret = {:?}\n[store]\nurl = {:?}\n[ghl]\nbase_url = {:?}\nlocation_id = {:?}\ntoken = {:?}\n\
         [baserow]\nbase_url = {:?}\ntoken = {:?}\ntables = {{ contacts = {}, tasks = {}, notes = {}, businesses = {} }}\n\
         [sync]\npoll_interval_secs = 0\n",
        c.auth
            .jwt_secret
            .as_ref()
            .expect("jwt secret")
            .expose_secret(),
        c.store.url,
        c.ghl.base_url.as_str(),
        c.ghl.location_id,
        c.ghl.token.expose_secret(),
        c.baserow.base_url.as_str(),
        c.baserow.token.expose_secret(),
        t.contacts,
        t.tasks,
        t.notes,
        t.businesses,
    );
    let path = app.data_dir.path().join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary off the test's runtime, which keeps serving the simulators meanwhile.
async fn cli(args: &[&str], config: &std::path::Path) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ghl-baserow-gateway"));
    command.args(args).arg("--config").arg(config);
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let app = quiet_app().await;
    let ghl_id = seed_ghl(
        &app,
        json!({"firstName": "Only", "lastName": "Ghl", "email": "only.ghl@example.com"}),
    );
    let row = new_row(
        &app,
        json!({"first_name": "Only", "last_name": "Row", "email": "only.row@example.com"}),
    )
    .await;
    let before = state_of(&app).await;
    let writes = ghl_writes(&app);

    let options = FullSyncOptions {
        dry_run: true,
        ..FullSyncOptions::default()
    };
    let report = full_sync(&app.gateway, &options).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(report.already_linked, 20, "{}", report.summary());
    assert_eq!(
        (
            report.created_in_ghl,
            report.created_in_baserow,
            report.linked,
            report.updated
        ),
        (1, 1, 0, 0)
    );
    assert!(report.plan.contains(&PlannedAction::CreateInGhl {
        row_id: row.id,
        label: "Only Row, only.row@example.com".into()
    }));
    assert!(
        report
            .plan
            .iter()
            .any(|a| matches!(a, PlannedAction::CreateInBaserow { ghl_id: g, .. } if *g == ghl_id))
    );

    let out = cli(&["sync", "--full", "--dry-run"], &config_file(&app)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("create in GHL: Baserow row {}", row.id)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("create in Baserow: GHL {ghl_id}")),
        "{stdout}"
    );
    assert!(stdout.contains("plan (dry run)"), "{stdout}");

    assert_eq!(state_of(&app).await, before);
    assert_eq!(ghl_writes(&app), writes);
}

#[tokio::test]
async fn a_full_sync_links_matches_copies_the_rest_and_then_finds_nothing_to_do() {
    let app = quiet_app().await;
    let by_email = seed_ghl(
        &app,
        json!({"firstName": "Mail", "email": "mail.match@example.com"}),
    );
    let by_phone = seed_ghl(&app, json!({"firstName": "Phone", "phone": "+14155559876"}));
    let ghl_only = seed_ghl(
        &app,
        json!({"firstName": "Ghl", "lastName": "Only", "email": "ghl.only@example.com"}),
    );
    let email_row = new_row(
        &app,
        json!({"first_name": "Mail", "email": "Mail.Match@Example.com"}),
    )
    .await;
    let phone_row = new_row(
        &app,
        json!({"first_name": "Phone", "phone": "+1 (415) 555-9876"}),
    )
    .await;
    let row_only = new_row(
        &app,
        json!({"first_name": "Row", "last_name": "Only", "email": "row.only@example.com"}),
    )
    .await;

    let report = full_sync(&app.gateway, &FullSyncOptions::default())
        .await
        .unwrap();
    assert_eq!(report.linked, 2, "{}", report.summary());
    assert_eq!(
        (
            report.created_in_ghl,
            report.created_in_baserow,
            report.failed
        ),
        (1, 1, 0)
    );

    let links = contact_links(&app).await;
    let has = |g: &str, r: i64| {
        links
            .iter()
            .any(|l| l.ghl_id.as_deref() == Some(g) && l.baserow_row_id == Some(r))
    };
    assert!(has(&by_email, email_row.id) && has(&by_phone, phone_row.id));
    let copied_row = links
        .iter()
        .find(|l| l.ghl_id.as_deref() == Some(ghl_only.as_str()))
        .and_then(|l| l.baserow_row_id);
    let rows = app
        .baserow
        .rows(app.gateway.baserow.table_id(Table::Contacts));
    assert!(
        rows.iter()
            .any(|r| Some(r["id"].as_i64().unwrap()) == copied_row
                && r["email"] == "ghl.only@example.com")
    );
    let copied_ghl = links
        .iter()
        .find(|l| l.baserow_row_id == Some(row_only.id))
        .and_then(|l| l.ghl_id.clone());
    assert!(
        app.ghl
            .contacts()
            .iter()
            .any(|c| c["id"].as_str() == copied_ghl.as_deref()
                && c["email"] == "row.only@example.com")
    );
    assert_eq!(links.len(), 24);

    let again = full_sync(&app.gateway, &FullSyncOptions::default())
        .await
        .unwrap();
    assert!(again.nothing_to_do(), "{}", again.summary());
    assert_eq!(again.already_linked, 24);
    let check = verify_with(
        &app.gateway,
        &VerifyOptions {
            children: false,
            ..VerifyOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(check.is_clean(), "{:?}", check.differences);
}

#[tokio::test]
async fn verify_is_clean_on_the_seeded_demo_and_from_the_cli() {
    let app = quiet_app().await;
    let report = verify(&app.gateway).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.differences);
    assert_eq!(report.checked.get("contact"), Some(&20));
    assert_eq!(report.checked.get("business"), Some(&3));
    assert_eq!(report.checked.get("task"), Some(&40));
    assert_eq!(report.checked.get("note"), Some(&40));

    let out = cli(&["sync", "verify"], &config_file(&app)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn verify_reports_each_kind_of_difference() {
    let app = quiet_app().await;
    let links = contact_links(&app).await;
    let (changed, deleted) = (&links[0], &links[1]);
    let row = changed.baserow_row_id.unwrap();
    let _: ContactRow = app
        .gateway
        .baserow
        .update_row(
            Table::Contacts,
            row,
            &json!({"first_name": "Changed"}),
            false,
        )
        .await
        .unwrap();
    app.gateway
        .ghl
        .delete_contact(deleted.ghl_id.as_deref().unwrap())
        .await
        .unwrap();
    seed_ghl(
        &app,
        json!({"firstName": "Stray", "email": "stray@example.com"}),
    );
    // A second row naming a linked GHL contact: a duplicate (and, unlinked, an orphan).
    new_row(
        &app,
        json!({"first_name": "Twin", "ghl_id": links[2].ghl_id}),
    )
    .await;

    let report = verify_with(
        &app.gateway,
        &VerifyOptions {
            children: false,
            ..VerifyOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(!report.is_clean());
    let of = |c: Category| {
        report
            .differences
            .iter()
            .filter(|d| d.category == c)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(Category::Field).len(), 1, "{:?}", report.differences);
    assert!(
        of(Category::Field)
            .iter()
            .all(|d| d.entity == Some(changed.id))
    );
    assert_eq!(of(Category::Missing).len(), 1, "{:?}", report.differences);
    assert_eq!(of(Category::Missing)[0].entity, Some(deleted.id));
    assert_eq!(of(Category::Orphan).len(), 2, "{:?}", report.differences);
    assert_eq!(
        report.count(Category::Duplicate),
        1,
        "{:?}",
        report.differences
    );

    let out = cli(&["sync", "verify"], &config_file(&app)).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing: contact"));
}

#[tokio::test]
async fn a_business_sync_creates_and_links_its_contacts_with_one_bulk_call() {
    let app = quiet_app().await;
    let business = app
        .gateway
        .store
        .list_links(EntityKind::Business, None, 10)
        .await
        .unwrap()[0]
        .clone();
    let row = business.baserow_row_id.unwrap();
    for i in 0..3 {
        new_row(&app, json!({"first_name": format!("New{i}"), "email": format!("new{i}@biz.example"), "business": [row]})).await;
    }
    let before = app.ghl.requests_by_route();
    let count =
        |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);

    let data = app
        .graphql(
            "mutation($id: ID!) { syncBusiness(id: $id) { contacts created updated linked failed } }",
            json!({"id": ghl_baserow_gateway::graphql::ids::encode(EntityKind::Business, business.id).0}),
        )
        .await;
    let after = app.ghl.requests_by_route();
    let result = &data["syncBusiness"];
    // The demo puts every third of its 20 contacts in each business: 7 here, plus the 3 new.
    assert_eq!(
        result,
        &json!({"contacts": 10, "created": 3, "updated": 0, "linked": 10, "failed": 0})
    );
    assert_eq!(
        count(&after, "POST /contacts/bulk/business")
            - count(&before, "POST /contacts/bulk/business"),
        1
    );
    assert_eq!(
        count(&after, "POST /contacts/") - count(&before, "POST /contacts/"),
        3
    );
    let ghl_business = business.ghl_id.clone().unwrap();
    let members = app
        .ghl
        .contacts()
        .into_iter()
        .filter(|c| c["businessId"] == ghl_business.as_str())
        .count();
    assert_eq!(members, 10);

    let again = sync_business(&app.gateway, business.id).await.unwrap();
    assert_eq!((again.created, again.updated, again.linked), (0, 0, 10));
}

#[tokio::test]
async fn audit_export_prints_every_entry_since_a_moment_as_json_lines() {
    let app = quiet_app().await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    new_row(
        &app,
        json!({"first_name": "Audited", "email": "audited@example.com"}),
    )
    .await;
    let report = full_sync(&app.gateway, &FullSyncOptions::default())
        .await
        .unwrap();
    assert_eq!(report.created_in_ghl, 1);

    let mut out = Vec::new();
    let written = audit_export::export(app.gateway.store.as_ref(), since, &mut out)
        .await
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), written);
    let entry = lines
        .iter()
        .find(|e| e["trigger"] == "batch" && e["system"] == "ghl")
        .expect("the batch create");
    assert_eq!(entry["action"], "create");
    assert_eq!(entry["entityKind"], "contact");
    for key in ["id", "at", "operationId", "entityId", "before", "after"] {
        assert!(entry.get(key).is_some(), "{key} missing in {entry}");
    }

    let out = cli(
        &["audit", "export", "--since", &since.to_rfc3339()],
        &config_file(&app),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed, lines);
}
