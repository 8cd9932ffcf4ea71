//! `baserow init`: turns an empty Baserow workspace into the tables the gateway maps, through the
//! admin API (JWT), finding and adopting whatever already exists.

use std::collections::HashMap;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{BaserowError, Table, decode, transport_error};
use crate::config::BaserowTables;

/// What provisioning needs to know.
pub struct ProvisionRequest {
    pub base_url: Url,
    pub email: String,
    pub password: SecretString,
    pub workspace: String,
    pub database: String,
}

/// What provisioning found or made.
#[derive(Debug)]
pub struct Provisioned {
    pub tables: BaserowTables,
    /// The database token's key (a secret).
    pub token: SecretString,
    /// One line per change made; empty when everything already existed.
    pub changes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Named {
    id: u64,
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

struct Admin {
    http: reqwest::Client,
    base_url: Url,
    jwt: SecretString,
}

impl Admin {
    async fn login(request: &ProvisionRequest) -> Result<Self, BaserowError> {
        #[derive(Deserialize)]
        struct Tokens {
            access_token: String,
        }
        let http = reqwest::Client::new();
        let url = join(&request.base_url, "api/user/token-auth/")?;
        let response = http
            .post(url)
            .json(&json!({"email": request.email, "password": request.password.expose_secret()}))
            .send()
            .await
            .map_err(transport_error)?;
        let tokens: Tokens = decode(response).await?;
        Ok(Self {
            http,
            base_url: request.base_url.clone(),
            jwt: SecretString::from(tokens.access_token),
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, BaserowError> {
        let mut request = self
            .http
            .request(method, join(&self.base_url, path)?)
            .header("Authorization", format!("JWT {}", self.jwt.expose_secret()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        decode(request.send().await.map_err(transport_error)?).await
    }

    /// Finds an object by name in a listing, or creates it with `body`.
    async fn find_or_create(
        &self,
        list_path: &str,
        create_path: &str,
        name: &str,
        body: Value,
        what: &str,
        changes: &mut Vec<String>,
    ) -> Result<u64, BaserowError> {
        let existing: Vec<Named> = self.call(Method::GET, list_path, None).await?;
        if let Some(found) = existing.iter().find(|n| n.name == name) {
            return Ok(found.id);
        }
        let created: Named = self.call(Method::POST, create_path, Some(body)).await?;
        changes.push(format!("created {what} {name:?} (id {})", created.id));
        Ok(created.id)
    }
}

fn join(base: &Url, path: &str) -> Result<Url, BaserowError> {
    base.join(path)
        .map_err(|e| BaserowError::Protocol(format!("bad path {path}: {e}")))
}

/// Creates — or finds and adopts — the workspace, database, four tables, their fields and a
/// database token limited to those tables. A field that exists with another type is reported by
/// name and left alone.
pub async fn provision(request: &ProvisionRequest) -> Result<Provisioned, BaserowError> {
    let admin = Admin::login(request).await?;
    let mut changes = Vec::new();

    let workspace = admin
        .find_or_create(
            "api/workspaces/",
            "api/workspaces/",
            &request.workspace,
            json!({"name": request.workspace}),
            "workspace",
            &mut changes,
        )
        .await?;
    let apps_path = format!("api/applications/workspace/{workspace}/");
    let database = admin
        .find_or_create(
            &apps_path,
            &apps_path,
            &request.database,
            json!({"type": "database", "name": request.database}),
            "database",
            &mut changes,
        )
        .await?;

    let tables_path = format!("api/database/tables/database/{database}/");
    let mut ids: HashMap<Table, u64> = HashMap::new();
    for table in Table::ALL {
        // One header row gives a table whose only field is our primary field, and no sample rows.
        let body = json!({"name": table.name(), "data": [[table.primary_field()]], "first_row_header": true});
        let id = admin
            .find_or_create(
                &tables_path,
                &tables_path,
                table.name(),
                body,
                "table",
                &mut changes,
            )
            .await?;
        ids.insert(table, id);
    }
    let table_id = |t: Table| ids.get(&t).copied().unwrap_or_default();

    let mut conflicts = Vec::new();
    for table in Table::ALL {
        let fields_path = format!("api/database/fields/table/{}/", table_id(table));
        let existing: Vec<Named> = admin.call(Method::GET, &fields_path, None).await?;
        for wanted in table.fields(table_id) {
            let name = wanted["name"].as_str().unwrap_or_default();
            let kind = wanted["type"].as_str().unwrap_or_default();
            match existing.iter().find(|f| f.name == name) {
                Some(found) if found.kind.as_deref() == Some(kind) => {}
                Some(found) => conflicts.push(format!(
                    "{}.{name} is {} but the gateway needs {kind}",
                    table.name(),
                    found.kind.as_deref().unwrap_or("unknown")
                )),
                None => {
                    let _: Value = admin
                        .call(Method::POST, &fields_path, Some(wanted.clone()))
                        .await?;
                    changes.push(format!("created field {}.{name} ({kind})", table.name()));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(BaserowError::Validation {
            code: "FIELD_TYPE_CONFLICT".into(),
            detail: conflicts.join("; "),
        });
    }

    let token = create_token(&admin, workspace, &ids, &mut changes).await?;
    Ok(Provisioned {
        tables: BaserowTables {
            contacts: table_id(Table::Contacts),
            tasks: table_id(Table::Tasks),
            notes: table_id(Table::Notes),
            businesses: table_id(Table::Businesses),
        },
        token,
        changes,
    })
}

/// A database token named for the gateway, limited to the four tables.
async fn create_token(
    admin: &Admin,
    workspace: u64,
    ids: &HashMap<Table, u64>,
    changes: &mut Vec<String>,
) -> Result<SecretString, BaserowError> {
    #[derive(Deserialize)]
    struct Token {
        id: u64,
        key: String,
    }
    let token: Token = admin
        .call(
            Method::POST,
            "api/database/tokens/",
            Some(json!({"name": "ghl-baserow-gateway", "workspace": workspace})),
        )
        .await?;
    let tables: Vec<Value> = ids.values().map(|id| json!(["table", id])).collect();
    let permissions = json!({"create": tables, "read": tables, "update": tables, "delete": tables});
    let _: Value = admin
        .call(
            Method::PATCH,
            &format!("api/database/tokens/{}/", token.id),
            Some(json!({"permissions": permissions})),
        )
        .await?;
    changes.push(format!(
        "created database token {} limited to the four tables",
        token.id
    ));
    Ok(SecretString::from(token.key))
}
