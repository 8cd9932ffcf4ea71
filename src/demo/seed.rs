//! The demo's sample CRM: 3 businesses, 20 contacts, each with 2 tasks and 2 notes, held in
//! both systems and linked in the store.
//!
//! GHL is seeded in-process (its simulator's seed calls cost no rate budget); Baserow through
//! the gateway's own client with batch writes, as a real first import would be.

use serde_json::{Value, json};

use crate::{
    backends::baserow::{BusinessRow, ContactRow, NoteRow, Table, TaskRow},
    sim::ghl::GhlSim,
    state::Gateway,
    store::{EntityKind, Link},
};

const BUSINESSES: [(&str, &str, &str); 3] = [
    ("Northwind Traders", "+14155550100", "northwind.example"),
    ("Bluebird Dental", "+13125550100", "bluebird.example"),
    ("Cedar & Co Architects", "+12065550100", "cedar.example"),
];

const FIRST: [&str; 20] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Tim",
    "Hedy",
    "Linus",
    "Katherine",
    "John",
    "Shafi",
    "Leslie",
    "Sophie",
    "Niklaus",
];
const LAST: [&str; 20] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Torvalds",
    "Johnson",
    "McCarthy",
    "Goldwasser",
    "Lamport",
    "Wilson",
    "Wirth",
];
const TASKS: [&str; 4] = [
    "Send the proposal",
    "Follow-up call",
    "Book the site visit",
    "Renew the contract",
];
const NOTES: [&str; 4] = [
    "Prefers email over phone.",
    "Met at the spring trade fair.",
    "Budget approved for Q3.",
    "Asked for a reference customer.",
];

struct SeedContact {
    first: &'static str,
    last: &'static str,
    email: String,
    phone: String,
    business: usize,
}

fn contacts() -> Vec<SeedContact> {
    FIRST
        .iter()
        .zip(LAST)
        .enumerate()
        .map(|(i, (first, last))| SeedContact {
            first,
            last,
            email: format!(
                "{}.{}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            phone: format!("+1415555{:04}", 1000 + i),
            business: i % BUSINESSES.len(),
        })
        .collect()
}

fn id_of(value: &Value) -> anyhow::Result<String> {
    value["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("seeded record has no id: {value}"))
}

fn link(kind: EntityKind, ghl_id: String, row_id: i64, parent: Option<&Link>) -> Link {
    let mut link = Link::new(kind);
    link.ghl_id = Some(ghl_id);
    link.baserow_row_id = Some(row_id);
    link.parent_id = parent.map(|p| p.id);
    link
}

pub async fn seed(gateway: &Gateway, ghl: &GhlSim) -> anyhow::Result<()> {
    let baserow = &gateway.baserow;

    let mut business_ghl = Vec::new();
    let mut business_rows = Vec::new();
    for (name, phone, site) in BUSINESSES {
        let created = ghl.seed_business(json!({
            "name": name, "phone": phone, "website": format!("https://{site}"),
            "email": format!("hello@{site}"), "locationId": ghl.location_id(),
        }));
        business_ghl.push(id_of(&created)?);
        business_rows.push(json!({
            "name": name, "phone": phone, "website": format!("https://{site}"),
            "email": format!("hello@{site}"), "ghl_id": id_of(&created)?,
        }));
    }
    let business_rows: Vec<BusinessRow> = baserow
        .create_rows(Table::Businesses, &business_rows, false)
        .await?;
    let business_links: Vec<Link> = business_ghl
        .iter()
        .zip(&business_rows)
        .map(|(g, r)| link(EntityKind::Business, g.clone(), r.id, None))
        .collect();
    gateway.store.ensure_links(&business_links).await?;

    let people = contacts();
    let mut contact_ghl = Vec::new();
    let mut contact_rows = Vec::new();
    for p in &people {
        let (company, _, _) = BUSINESSES[p.business];
        let created = ghl.seed_contact(json!({
            "locationId": ghl.location_id(), "firstName": p.first, "lastName": p.last,
            "name": format!("{} {}", p.first, p.last), "email": p.email, "phone": p.phone,
            "companyName": company, "tags": ["demo"], "businessId": business_ghl[p.business],
        }));
        contact_ghl.push(id_of(&created)?);
        contact_rows.push(json!({
            "name": format!("{} {}", p.first, p.last), "first_name": p.first,
            "last_name": p.last, "email": p.email, "phone": p.phone, "company_name": company,
            "tags": "demo", "business": [business_rows[p.business].id], "ghl_id": id_of(&created)?,
        }));
    }
    let contact_rows: Vec<ContactRow> = baserow
        .create_rows(Table::Contacts, &contact_rows, false)
        .await?;
    let contact_links: Vec<Link> = contact_ghl
        .iter()
        .zip(&contact_rows)
        .map(|(g, r)| link(EntityKind::Contact, g.clone(), r.id, None))
        .collect();
    gateway.store.ensure_links(&contact_links).await?;

    let (mut task_ghl, mut task_rows, mut task_parents) = (Vec::new(), Vec::new(), Vec::new());
    let (mut note_ghl, mut note_rows, mut note_parents) = (Vec::new(), Vec::new(), Vec::new());
    for (i, contact) in contact_links.iter().enumerate() {
        let ghl_contact = contact.ghl_id.clone().unwrap_or_default();
        let row_id = contact.baserow_row_id.unwrap_or_default();
        for k in 0..2 {
            let title = TASKS[(i + k) % TASKS.len()];
            let due = format!("2026-12-{:02}T09:00:00Z", 1 + (i + k * 7) % 28);
            let completed = (i + k) % 3 == 0;
            let task = ghl.seed_task(
                &ghl_contact,
                json!({"title": title, "body": format!("{title} for {}", FIRST[i]),
                       "dueDate": due, "completed": completed}),
            );
            task_ghl.push(id_of(&task)?);
            task_parents.push(contact);
            task_rows.push(json!({
                "title": title, "body": format!("{title} for {}", FIRST[i]), "due_date": due,
                "completed": completed, "contact": [row_id], "ghl_id": id_of(&task)?,
            }));

            let body = NOTES[(i + k) % NOTES.len()];
            let note = ghl.seed_note(&ghl_contact, json!({"body": body}));
            note_ghl.push(id_of(&note)?);
            note_parents.push(contact);
            note_rows.push(json!({
                "title": body.split('.').next().unwrap_or(body), "body": body,
                "contact": [row_id], "ghl_id": id_of(&note)?,
            }));
        }
    }
    let task_rows: Vec<TaskRow> = baserow.create_rows(Table::Tasks, &task_rows, false).await?;
    let note_rows: Vec<NoteRow> = baserow.create_rows(Table::Notes, &note_rows, false).await?;
    let mut links: Vec<Link> = task_ghl
        .into_iter()
        .zip(&task_rows)
        .zip(task_parents)
        .map(|((g, r), p)| link(EntityKind::Task, g, r.id, Some(p)))
        .collect();
    links.extend(
        note_ghl
            .into_iter()
            .zip(&note_rows)
            .zip(note_parents)
            .map(|((g, r), p)| link(EntityKind::Note, g, r.id, Some(p))),
    );
    gateway.store.ensure_links(&links).await?;
    Ok(())
}
