//! The gateway side of the peer bench: a gateway over both simulators, and the same 50
//! contacts (3 tasks, 2 notes each) in GHL and Baserow, linked in the store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CONTACTS, NOTES, TASKS};
use crate::backends::baserow::{Table, provision};
use crate::sim::{baserow::BaserowSim, ghl::GhlSim};
use crate::{auth::Scope, config::Config, demo, state::Gateway, store};

/// Provisions the Baserow simulator and builds a gateway over both simulators (SQLite store in
/// `scratch`); returns it with a full-scope client token.
pub async fn build_gateway(
    scratch: &Path,
    ghl: &GhlSim,
    ghl_token: &str,
    baserow: &BaserowSim,
) -> anyhow::Result<(Arc<Gateway>, String)> {
    let provisioned = provision::provision(&provision::ProvisionRequest {
        base_url: baserow.base_url().parse()?,
        email: "admin@example.com".into(),
        password: SecretString::from("password".to_string()),
        workspace: "Bench".into(),
        database: "CRM".into(),
    })
    .await
    .context("provisioning the Baserow simulator")?;
    let secret = SecretString::from(demo::random_string(48));
    let t = provisioned.tables;
    let text = format!(
        "[auth]\njwt_secret = {secret:?}\n[store]\nurl = {store:?}\n\
         [ghl]\nbase_url = {ghl_url:?}\nlocation_id = {location:?}\ntoken = {ghl_token:?}\n\
         [baserow]\nbase_url = {baserow_url:?}\ntoken = {baserow_token:?}\n\
         tables = {{ contacts = {}, tasks = {}, notes = {}, businesses = {} }}\n",
        t.contacts,
        t.tasks,
        t.notes,
        t.businesses,
        secret = secret.expose_secret(),
        store = format!("sqlite://{}", scratch.join("gateway.db").display()),
        ghl_url = ghl.base_url(),
        location = ghl.location_id(),
        baserow_url = baserow.base_url(),
        baserow_token = provisioned.token.expose_secret(),
    );
    let gateway = Gateway::build(Config::from_toml(&text)?).await?;
    let token = demo::authority(&secret).mint("bench", &Scope::ALL, Duration::from_secs(3600))?;
    Ok((gateway, token))
}

#[derive(Deserialize)]
struct Created {
    id: i64,
}

fn id_of(value: &Value) -> anyhow::Result<String> {
    let id = value["id"].as_str().map(str::to_string);
    id.with_context(|| format!("seeded record has no id: {value}"))
}

/// The same 50 contacts (3 tasks, 2 notes each) in GHL and Baserow, linked in the store.
pub async fn seed(gateway: &Gateway, ghl: &GhlSim) -> anyhow::Result<()> {
    let (mut ids, mut rows) = (Vec::new(), Vec::new());
    for i in 0..CONTACTS {
        let (last, email, phone) = (
            format!("Person{i:02}"),
            format!("peer{i:02}@example.com"),
            format!("+1415556{i:04}"),
        );
        let created = ghl.seed_contact(json!({
            "firstName": "Peer", "lastName": last, "name": format!("Peer {last}"),
            "email": email, "phone": phone, "tags": ["bench"],
        }));
        ids.push(id_of(&created)?);
        rows.push(json!({
            "name": format!("Peer {last}"), "first_name": "Peer", "last_name": last,
            "email": email, "phone": phone, "tags": "bench", "ghl_id": id_of(&created)?,
        }));
    }
    let contacts = create_linked(gateway, Table::Contacts, ids, rows, &[]).await?;
    for table in [Table::Tasks, Table::Notes] {
        let (mut ids, mut rows, mut parents) = (Vec::new(), Vec::new(), Vec::new());
        for (i, contact) in contacts.iter().enumerate() {
            let ghl_contact = contact
                .ghl_id
                .as_deref()
                .context("contact without GHL id")?;
            let row = contact.baserow_row_id.context("contact without row id")?;
            let per_contact = if table == Table::Tasks { TASKS } else { NOTES };
            for k in 0..per_contact {
                let (title, due) = (format!("Item {k} of contact {i}"), "2026-12-01T09:00:00Z");
                let (created, mut fields) = if table == Table::Tasks {
                    let body = json!({"title": title, "dueDate": due, "completed": k == 0});
                    let fields = json!({"title": title, "due_date": due, "completed": k == 0});
                    (ghl.seed_task(ghl_contact, body), fields)
                } else {
                    let note = ghl.seed_note(ghl_contact, json!({"body": title}));
                    (note, json!({"title": title, "body": title}))
                };
                fields["contact"] = json!([row]);
                fields["ghl_id"] = json!(id_of(&created)?);
                ids.push(id_of(&created)?);
                rows.push(fields);
                parents.push(contact.id);
            }
        }
        create_linked(gateway, table, ids, rows, &parents).await?;
    }
    Ok(())
}

/// Creates Baserow rows and stores their links to the GHL records `ghl_ids` (children of
/// `parents`, index for index, when given).
async fn create_linked(
    gateway: &Gateway,
    table: Table,
    ghl_ids: Vec<String>,
    rows: Vec<Value>,
    parents: &[uuid::Uuid],
) -> anyhow::Result<Vec<store::Link>> {
    let kind = match table {
        Table::Contacts => store::EntityKind::Contact,
        Table::Tasks => store::EntityKind::Task,
        Table::Notes => store::EntityKind::Note,
        Table::Businesses => store::EntityKind::Business,
    };
    let created: Vec<Created> = gateway.baserow.create_rows(table, &rows, false).await?;
    anyhow::ensure!(
        created.len() == ghl_ids.len(),
        "Baserow made {} rows",
        created.len()
    );
    let links: Vec<store::Link> = (ghl_ids.into_iter().zip(&created).enumerate())
        .map(|(i, (ghl_id, row))| {
            let mut link = store::Link::new(kind);
            link.ghl_id = Some(ghl_id);
            link.baserow_row_id = Some(row.id);
            link.parent_id = parents.get(i).copied();
            link
        })
        .collect();
    Ok(gateway.store.ensure_links(&links).await?)
}
