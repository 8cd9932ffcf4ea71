//! Provisioning: turns a Baserow workspace into the tables the gateway maps, through the admin
//! API (JWT), finding and adopting whatever already exists, so that running it again changes
//! nothing. Used by `baserow init` (with webhooks and token reuse) and by `demo`.

use std::collections::{BTreeSet, HashMap};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{
    BaserowError, Table,
    admin::{AdminClient, AdminCredentials, Named},
    fields::FieldType,
    webhooks::{self, WebhookPlan},
};
use crate::config::BaserowTables;

/// The name of the database token the gateway uses.
pub const TOKEN_NAME: &str = "ghl-baserow-gateway";

/// What provisioning needs to know (the simple form `demo` uses).
pub struct ProvisionRequest {
    pub base_url: Url,
    pub email: String,
    pub password: SecretString,
    pub workspace: String,
    pub database: String,
}

/// The full form: any admin credential, a token to reuse, and webhooks to register.
#[derive(Debug, Clone)]
pub struct ProvisionPlan {
    pub base_url: Url,
    pub credentials: AdminCredentials,
    pub workspace: String,
    pub database: String,
    /// Reused when `GET /api/database/tokens/check/` accepts it, instead of making a new one.
    pub existing_token: Option<SecretString>,
    pub webhooks: Option<WebhookPlan>,
    /// Extra columns of the Contacts table, created as text when missing: the Baserow side of
    /// the custom fields `[mapping]` maps. An existing column of any type is kept as it is.
    pub contact_columns: Vec<String>,
}

impl From<&ProvisionRequest> for ProvisionPlan {
    fn from(r: &ProvisionRequest) -> Self {
        Self {
            base_url: r.base_url.clone(),
            credentials: AdminCredentials::Password {
                email: r.email.clone(),
                password: r.password.clone(),
            },
            workspace: r.workspace.clone(),
            database: r.database.clone(),
            existing_token: None,
            webhooks: None,
            contact_columns: Vec::new(),
        }
    }
}

/// What provisioning found or made.
#[derive(Debug)]
pub struct Provisioned {
    pub tables: BaserowTables,
    /// The database token's key (a secret).
    pub token: SecretString,
    /// The webhooks' secret header value, when webhooks were asked for.
    pub webhook_secret: Option<SecretString>,
    /// One line per change made; empty when everything already existed.
    pub changes: Vec<String>,
}

/// Creates — or finds and adopts — the workspace, database, four tables, their fields and a
/// database token limited to those tables.
pub async fn provision(request: &ProvisionRequest) -> Result<Provisioned, BaserowError> {
    provision_with(&ProvisionPlan::from(request)).await
}

/// [`provision`] with token reuse and webhooks. A field that exists with another type is
/// reported by table and name ([`BaserowError::SchemaConflict`]) and nothing is overwritten;
/// the check runs for every table before any field is created.
pub async fn provision_with(plan: &ProvisionPlan) -> Result<Provisioned, BaserowError> {
    let admin = AdminClient::connect(&plan.base_url, &plan.credentials).await?;
    let mut changes = Vec::new();

    let workspaces = admin.workspaces().await?;
    let workspace = match find(&workspaces, &plan.workspace) {
        Some(id) => id,
        None => {
            let ws = admin.create_workspace(&plan.workspace).await?;
            changes.push(format!("created workspace {:?} (id {})", ws.name, ws.id));
            ws.id
        }
    };
    let database = match find(&admin.databases(workspace).await?, &plan.database) {
        Some(id) => id,
        None => {
            let db = admin.create_database(workspace, &plan.database).await?;
            changes.push(format!("created database {:?} (id {})", db.name, db.id));
            db.id
        }
    };
    let existing_tables = admin.tables(database).await?;
    let mut ids: HashMap<Table, u64> = HashMap::new();
    for table in Table::ALL {
        let id = match find(&existing_tables, table.name()) {
            Some(id) => id,
            None => {
                let t = admin
                    .create_table(database, table.name(), table.primary_field())
                    .await?;
                changes.push(format!("created table {} (id {})", table.name(), t.id));
                t.id
            }
        };
        ids.insert(table, id);
    }
    let table_id = |t: Table| ids.get(&t).copied().unwrap_or_default();

    let missing = missing_fields(&admin, &table_id, &plan.contact_columns).await?;
    for (table, field) in missing {
        admin.create_field(table_id(table), &field).await?;
        changes.push(format!(
            "created field {}.{} ({})",
            table.name(),
            field["name"].as_str().unwrap_or_default(),
            field["type"].as_str().unwrap_or_default()
        ));
    }

    let tables = BaserowTables {
        contacts: table_id(Table::Contacts),
        tasks: table_id(Table::Tasks),
        notes: table_id(Table::Notes),
        businesses: table_id(Table::Businesses),
    };
    let token = ensure_token(&admin, plan, workspace, &tables, &mut changes).await?;
    let webhook_secret = match &plan.webhooks {
        Some(wanted) => Some(ensure_webhooks(&admin, wanted, &table_id, &mut changes).await?),
        None => None,
    };
    Ok(Provisioned {
        tables,
        token,
        webhook_secret,
        changes,
    })
}

fn find(listed: &[Named], name: &str) -> Option<u64> {
    listed.iter().find(|n| n.name == name).map(|n| n.id)
}

/// The field-creation bodies each table lacks, or every conflict found.
async fn missing_fields(
    admin: &AdminClient,
    table_id: &impl Fn(Table) -> u64,
    contact_columns: &[String],
) -> Result<Vec<(Table, Value)>, BaserowError> {
    let mut missing = Vec::new();
    let mut conflicts = Vec::new();
    for table in Table::ALL {
        let existing = admin.fields(table_id(table)).await?;
        if table == Table::Contacts {
            for column in contact_columns {
                if !existing.iter().any(|f| f["name"].as_str() == Some(column)) {
                    missing.push((table, json!({"name": column, "type": "text"})));
                }
            }
        }
        let primary = json!({"name": table.primary_field(), "type": "text"});
        for wanted in std::iter::once(primary).chain(table.fields(table_id)) {
            let name = wanted["name"].as_str().unwrap_or_default().to_string();
            let found = existing
                .iter()
                .find(|f| f["name"].as_str() == Some(name.as_str()));
            match found {
                None => missing.push((table, wanted)),
                Some(found) => {
                    if let Some(why) = conflict(&wanted, found) {
                        conflicts.push(format!("{}.{name} {why}", table.name()));
                    }
                }
            }
        }
    }
    if conflicts.is_empty() {
        Ok(missing)
    } else {
        Err(BaserowError::SchemaConflict { conflicts })
    }
}

/// Why an existing field cannot serve as the wanted one, if it cannot.
fn conflict(wanted: &Value, found: &Value) -> Option<String> {
    let want = wanted["type"].as_str().unwrap_or_default();
    let have = found["type"].as_str().unwrap_or("unknown");
    if want != have {
        return Some(format!("is {have} but the gateway needs {want}"));
    }
    match (FieldType::from_json(wanted), FieldType::from_json(found)) {
        (FieldType::LinkRow { table_id: a }, FieldType::LinkRow { table_id: b }) if a != b => Some(
            format!("links to table {b} but the gateway needs table {a}"),
        ),
        (FieldType::Formula, _) if found["formula"] != wanted["formula"] => Some(format!(
            "has formula {} but the gateway needs {}",
            found["formula"], wanted["formula"]
        )),
        _ => None,
    }
}

/// The four tables, as token permission references.
fn table_refs(tables: &BaserowTables) -> Vec<Value> {
    [
        tables.businesses,
        tables.contacts,
        tables.tasks,
        tables.notes,
    ]
    .iter()
    .map(|id| json!(["table", id]))
    .collect()
}

/// Reuses the configured token when Baserow accepts it (narrowing it if it reaches further
/// than the four tables), or makes a new one limited to them.
async fn ensure_token(
    admin: &AdminClient,
    plan: &ProvisionPlan,
    workspace: u64,
    tables: &BaserowTables,
    changes: &mut Vec<String>,
) -> Result<SecretString, BaserowError> {
    let refs = table_refs(tables);
    let wanted = json!({"create": refs, "read": refs, "update": refs, "delete": refs});
    if let Some(key) = &plan.existing_token {
        if admin.token_is_valid(key).await? {
            let listed = admin.tokens().await?;
            let known = listed
                .iter()
                .find(|t| t.key.expose_secret() == key.expose_secret());
            if let Some(token) = known.filter(|t| !same_permissions(&t.permissions, &wanted)) {
                admin.set_token_permissions(token.id, &wanted).await?;
                changes.push(format!(
                    "limited database token {} to the four tables",
                    token.id
                ));
            }
            return Ok(key.clone());
        }
        changes.push("the configured database token is not valid any more".into());
    }
    let token = admin.create_token(TOKEN_NAME, workspace).await?;
    admin.set_token_permissions(token.id, &wanted).await?;
    changes.push(format!(
        "created database token {} limited to the four tables",
        token.id
    ));
    Ok(token.key)
}

/// Compares permissions as sets of references per operation (order is not significant).
fn same_permissions(have: &Value, want: &Value) -> bool {
    let refs = |v: &Value| -> Option<BTreeSet<String>> {
        v.as_array()
            .map(|l| l.iter().map(Value::to_string).collect())
    };
    ["create", "read", "update", "delete"]
        .iter()
        .all(|op| refs(&have[op]).is_some() && refs(&have[op]) == refs(&want[op]))
}

/// Registers (or adopts) the row webhooks on each table; returns the secret they carry.
async fn ensure_webhooks(
    admin: &AdminClient,
    wanted: &WebhookPlan,
    table_id: &impl Fn(Table) -> u64,
    changes: &mut Vec<String>,
) -> Result<SecretString, BaserowError> {
    let url = wanted.url.to_string();
    let mut listed = Vec::new();
    for table in Table::ALL {
        listed.push((table, admin.webhooks(table_id(table)).await?));
    }
    let secret = match &wanted.secret {
        Some(secret) => secret.clone(),
        None => listed
            .iter()
            .find_map(|(_, hooks)| webhooks::adopted_secret(hooks, &url))
            .unwrap_or_else(|| {
                changes.push("generated a webhook secret".into());
                webhooks::generate_secret()
            }),
    };
    for (table, hooks) in &listed {
        webhooks::ensure(
            admin,
            (table_id(*table), table.name()),
            hooks,
            &url,
            &secret,
            changes,
        )
        .await?;
    }
    Ok(secret)
}
