//! Black-box tests of the Baserow simulator over HTTP: each test documents one behaviour of a
//! real Baserow 1.35 server that the simulator reproduces (see FACTS.md).

use std::time::Duration;

use ghl_baserow_gateway::sim::baserow::{BaserowFaults, BaserowSim, BaserowSimConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Env {
    sim: BaserowSim,
    http: reqwest::Client,
    base: String,
    jwt: String,
    workspace: u64,
    database: u64,
}

struct Reply {
    status: StatusCode,
    body: Value,
    text: String,
}

async fn start_with(config: BaserowSimConfig) -> Env {
    let sim = BaserowSim::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let base = sim.base_url();
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/user/token-auth/"))
        .json(&json!({"email": "admin@example.com", "password": "password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = login["access_token"].as_str().unwrap().to_string();
    let mut env = Env { sim, http, base, jwt, workspace: 0, database: 0 };
    let ws = env.admin(Method::POST, "/api/workspaces/", json!({"name": "WS"})).await;
    env.workspace = ws.body["id"].as_u64().unwrap();
    let db = env
        .admin(Method::POST, &format!("/api/applications/workspace/{}/", env.workspace), json!({"type": "database", "name": "DB"}))
        .await;
    env.database = db.body["id"].as_u64().unwrap();
    env
}

async fn start() -> Env {
    start_with(BaserowSimConfig { sample_table_data: false, ..Default::default() }).await
}

impl Env {
    async fn call(&self, method: Method, path: &str, auth: Option<String>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text }
    }

    fn jwt(&self) -> Option<String> {
        Some(format!("JWT {}", self.jwt))
    }

    async fn admin(&self, method: Method, path: &str, body: Value) -> Reply {
        self.call(method, path, self.jwt(), Some(body)).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, self.jwt(), None).await
    }

    async fn table(&self, name: &str) -> u64 {
        let r = self.admin(Method::POST, &format!("/api/database/tables/database/{}/", self.database), json!({"name": name})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["id"].as_u64().unwrap()
    }

    async fn field(&self, table: u64, body: Value) -> Value {
        let r = self.admin(Method::POST, &format!("/api/database/fields/table/{table}/"), body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    async fn token(&self) -> (u64, String) {
        let r = self.admin(Method::POST, "/api/database/tokens/", json!({"name": "t", "workspace": self.workspace})).await;
        (r.body["id"].as_u64().unwrap(), format!("Token {}", r.body["key"].as_str().unwrap()))
    }

    /// Creates a row with user field names via the JWT.
    async fn create(&self, table: u64, body: Value) -> Reply {
        self.admin(Method::POST, &format!("/api/database/rows/table/{table}/?user_field_names=true"), body).await
    }

    async fn patch(&self, table: u64, row: u64, body: Value) -> Reply {
        self.admin(Method::PATCH, &format!("/api/database/rows/table/{table}/{row}/?user_field_names=true"), body).await
    }

    async fn list(&self, table: u64, query: &str) -> Reply {
        self.get(&format!("/api/database/rows/table/{table}/?user_field_names=true&{query}")).await
    }
}

fn names(reply: &Reply, key: &str) -> Vec<String> {
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap_or("").to_string())
        .collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------- admin API

#[tokio::test]
async fn admin_flow_provisions_workspace_database_table_fields_and_token() {
    let env = start_with(BaserowSimConfig::default()).await;
    let apps = env.get(&format!("/api/applications/workspace/{}/", env.workspace)).await;
    assert_eq!(apps.body[0]["type"], "database");
    let table = env.table("Contacts").await;
    let tables = env.get(&format!("/api/database/tables/database/{}/", env.database)).await;
    assert_eq!(tables.body[0]["name"], "Contacts");
    let fields = env.get(&format!("/api/database/fields/table/{table}/")).await;
    let field_names: Vec<&str> = fields.body.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(field_names, ["Name", "Notes", "Active"], "sample fields like the real server");
    assert_eq!(fields.body[0]["primary"], true);
    assert_eq!(env.sim.rows(table).len(), 2, "two sample rows");
    let primary = fields.body[0]["id"].as_u64().unwrap();
    let renamed = env.admin(Method::PATCH, &format!("/api/database/fields/{primary}/"), json!({"name": "Email key"})).await;
    assert_eq!(renamed.body["name"], "Email key");
    let (_, token) = env.token().await;
    let check = env.call(Method::GET, "/api/database/tokens/check/", Some(token.clone()), None).await;
    assert_eq!(check.body, json!({"token": "OK"}));
    let with_token = env.call(Method::GET, &format!("/api/database/fields/table/{table}/"), Some(token), None).await;
    assert_eq!(with_token.status, 200);
    let listed = env.get("/api/database/tokens/").await;
    assert_eq!(listed.body[0]["permissions"]["read"], true);
}

#[tokio::test]
async fn wrong_password_is_rejected_with_baserow_error() {
    let env = start().await;
    let r = env.call(Method::POST, "/api/user/token-auth/", None, Some(json!({"email": "admin@example.com", "password": "nope"}))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "ERROR_INVALID_CREDENTIALS");
}

#[tokio::test]
async fn refresh_token_issues_a_new_access_token() {
    let env = start().await;
    let login = env.call(Method::POST, "/api/user/token-auth/", None, Some(json!({"email": "admin@example.com", "password": "password"}))).await;
    let refresh = login.body["refresh_token"].as_str().unwrap();
    let r = env.call(Method::POST, "/api/user/token-refresh/", None, Some(json!({"refresh_token": refresh}))).await;
    let access = r.body["access_token"].as_str().unwrap();
    let ws = env.call(Method::GET, "/api/workspaces/", Some(format!("JWT {access}")), None).await;
    assert_eq!(ws.status, 200);
}

#[tokio::test]
async fn expired_access_token_gets_401() {
    let env = start_with(BaserowSimConfig { access_token_ttl: Duration::from_millis(50), ..Default::default() }).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = env.get("/api/workspaces/").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "ERROR_INVALID_ACCESS_TOKEN");
}

#[tokio::test]
async fn database_token_is_refused_on_admin_endpoints() {
    let env = start().await;
    let table = env.table("T").await;
    let (_, token) = env.token().await;
    let r = env
        .call(Method::POST, &format!("/api/database/fields/table/{table}/"), Some(token.clone()), Some(json!({"name": "x", "type": "text"})))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({"detail": "Authentication credentials were not provided."}));
    let r = env.call(Method::GET, &format!("/api/database/webhooks/table/{table}/"), Some(token), None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn no_auth_gets_detail_only_401() {
    let env = start().await;
    let table = env.table("T").await;
    let r = env.call(Method::GET, &format!("/api/database/rows/table/{table}/"), None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["detail"]);
}

#[tokio::test]
async fn unknown_token_gets_token_does_not_exist() {
    let env = start().await;
    let table = env.table("T").await;
    let r = env.call(Method::GET, &format!("/api/database/rows/table/{table}/"), Some("Token abcdefabcdefabcdefabcdefabcdefab".into()), None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "ERROR_TOKEN_DOES_NOT_EXIST");
}

#[tokio::test]
async fn token_permissions_are_enforced_per_operation_and_table() {
    let env = start().await;
    let allowed = env.table("A").await;
    let other = env.table("B").await;
    let (id, token) = env.token().await;
    let perms = json!({"permissions": {"create": [["table", allowed]], "read": true, "update": false, "delete": [["database", env.database]]}});
    let r = env.admin(Method::PATCH, &format!("/api/database/tokens/{id}/"), perms).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ok = env.call(Method::POST, &format!("/api/database/rows/table/{allowed}/"), Some(token.clone()), Some(json!({}))).await;
    assert_eq!(ok.status, 200);
    let denied = env.call(Method::POST, &format!("/api/database/rows/table/{other}/"), Some(token.clone()), Some(json!({}))).await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body["error"], "ERROR_NO_PERMISSION_TO_TABLE");
    let upd = env.call(Method::PATCH, &format!("/api/database/rows/table/{allowed}/1/"), Some(token.clone()), Some(json!({}))).await;
    assert_eq!(upd.body["error"], "ERROR_NO_PERMISSION_TO_TABLE");
    let del = env.call(Method::DELETE, &format!("/api/database/rows/table/{allowed}/1/"), Some(token), None).await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn token_permission_update_requires_all_four_keys() {
    let env = start().await;
    let (id, _) = env.token().await;
    let r = env.admin(Method::PATCH, &format!("/api/database/tokens/{id}/"), json!({"permissions": {"create": true}})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "ERROR_REQUEST_BODY_VALIDATION");
}

#[tokio::test]
async fn missing_table_and_row_are_404() {
    let env = start().await;
    let table = env.table("T").await;
    let r = env.get("/api/database/rows/table/999/").await;
    assert_eq!((r.status.as_u16(), r.body["error"].as_str()), (404, Some("ERROR_TABLE_DOES_NOT_EXIST")));
    let r = env.get(&format!("/api/database/rows/table/{table}/42/")).await;
    assert_eq!((r.status.as_u16(), r.body["error"].as_str()), (404, Some("ERROR_ROW_DOES_NOT_EXIST")));
}

// ---------------------------------------------------------------- field types

async fn field_table(env: &Env) -> u64 {
    let t = env.table("F").await;
    env.field(t, json!({"name": "Email", "type": "email"})).await;
    env.field(t, json!({"name": "Phone", "type": "phone_number"})).await;
    env.field(t, json!({"name": "Site", "type": "url"})).await;
    env.field(t, json!({"name": "Notes", "type": "long_text"})).await;
    env.field(t, json!({"name": "Day", "type": "date"})).await;
    env.field(t, json!({"name": "At", "type": "date", "date_include_time": true})).await;
    env.field(t, json!({"name": "Done", "type": "boolean"})).await;
    env.field(t, json!({"name": "Amount", "type": "number", "number_decimal_places": 2})).await;
    env.field(t, json!({"name": "Stage", "type": "single_select", "select_options": [{"value": "Lead", "color": "blue"}, {"value": "Won", "color": "green"}]})).await;
    env.field(t, json!({"name": "Tags", "type": "multiple_select", "select_options": [{"value": "a", "color": "red"}, {"value": "b", "color": "red"}]})).await;
    env.field(t, json!({"name": "Created", "type": "created_on", "date_include_time": true})).await;
    env.field(t, json!({"name": "Modified", "type": "last_modified", "date_include_time": true})).await;
    env.field(t, json!({"name": "RowId", "type": "formula", "formula": "row_id()"})).await;
    t
}

async fn rejected(env: &Env, table: u64, body: Value, key: &str) -> Value {
    let r = env.create(table, body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], "ERROR_REQUEST_BODY_VALIDATION");
    r.body["detail"][key][0].clone()
}

#[tokio::test]
async fn text_like_fields_round_trip_and_validate() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Name": "Ann", "Email": "ann@example.com", "Phone": "+1 (555) 010-2000", "Site": "https://example.com", "Notes": "multi\nline"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["Email"], "ann@example.com");
    assert_eq!(r.body["Notes"], "multi\nline");
    assert_eq!(rejected(&env, t, json!({"Email": "not-an-email"}), "Email").await["error"], "Enter a valid value.");
    assert_eq!(rejected(&env, t, json!({"Phone": "call me"}), "Phone").await["error"], "Enter a valid value.");
    assert_eq!(rejected(&env, t, json!({"Name": ["x"]}), "Name").await["code"], "invalid");
}

#[tokio::test]
async fn number_reads_as_decimal_string_and_validates() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Amount": 9.5})).await;
    assert_eq!(r.body["Amount"], "9.50");
    let r = env.create(t, json!({"Amount": "12"})).await;
    assert_eq!(r.body["Amount"], "12.00");
    assert_eq!(rejected(&env, t, json!({"Amount": "abc"}), "Amount").await["code"], "invalid");
    assert_eq!(rejected(&env, t, json!({"Amount": "1.234"}), "Amount").await["code"], "max_decimal_places");
    assert_eq!(rejected(&env, t, json!({"Amount": -1}), "Amount").await["code"], "min_value");
}

#[tokio::test]
async fn date_fields_follow_include_time() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Day": "2026-11-27", "At": "2026-11-27T10:30:00Z"})).await;
    assert_eq!(r.body["Day"], "2026-11-27");
    assert_eq!(r.body["At"], "2026-11-27T10:30:00Z");
    rejected(&env, t, json!({"Day": "2026-11-27T10:30:00Z"}), "Day").await;
    rejected(&env, t, json!({"At": "yesterday"}), "At").await;
}

#[tokio::test]
async fn boolean_field_accepts_bools_and_rejects_garbage() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Done": true})).await;
    assert_eq!(r.body["Done"], true);
    let r = env.create(t, json!({})).await;
    assert_eq!(r.body["Done"], false);
    assert_eq!(rejected(&env, t, json!({"Done": "maybe"}), "Done").await["error"], "Must be a valid boolean.");
}

#[tokio::test]
async fn single_select_reads_object_and_writes_id_or_value() {
    let env = start().await;
    let t = field_table(&env).await;
    let by_value = env.create(t, json!({"Stage": "Won"})).await;
    assert_eq!(by_value.body["Stage"]["value"], "Won");
    assert_eq!(by_value.body["Stage"]["color"], "green");
    let id = by_value.body["Stage"]["id"].clone();
    let by_id = env.create(t, json!({"Stage": id})).await;
    assert_eq!(by_id.body["Stage"]["value"], "Won");
    rejected(&env, t, json!({"Stage": "Lost"}), "Stage").await;
}

#[tokio::test]
async fn multiple_select_reads_list_of_options() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Tags": ["a", "b"]})).await;
    let values: Vec<&str> = r.body["Tags"].as_array().unwrap().iter().map(|o| o["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["a", "b"]);
    rejected(&env, t, json!({"Tags": ["zzz"]}), "Tags").await;
}

#[tokio::test]
async fn read_only_fields_reject_writes_and_formula_reads_row_id_string() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Name": "x"})).await;
    let id = r.body["id"].as_u64().unwrap();
    assert_eq!(r.body["RowId"], json!(id.to_string()));
    let created = r.body["Created"].as_str().unwrap();
    assert_eq!(created.len(), "2026-11-27T10:30:00.000000Z".len(), "microseconds: {created}");
    rejected(&env, t, json!({"Created": "2026-01-01T00:00:00Z"}), "Created").await;
    rejected(&env, t, json!({"Modified": "2026-01-01T00:00:00Z"}), "Modified").await;
    rejected(&env, t, json!({"RowId": "3"}), "RowId").await;
}

#[tokio::test]
async fn last_modified_changes_on_every_write() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Name": "x"})).await;
    let id = r.body["id"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let u = env.patch(t, id, json!({"Name": "y"})).await;
    assert_ne!(r.body["Modified"], u.body["Modified"]);
    assert_eq!(r.body["Created"], u.body["Created"]);
}

#[tokio::test]
async fn unknown_field_names_in_writes_are_ignored() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Name": "x", "Nope": 1})).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("Nope").is_none());
}

#[tokio::test]
async fn field_with_same_name_is_rejected() {
    let env = start().await;
    let t = env.table("T").await;
    let r = env.admin(Method::POST, &format!("/api/database/fields/table/{t}/"), json!({"name": "Name", "type": "text"})).await;
    assert_eq!(r.body["error"], "ERROR_FIELD_WITH_SAME_NAME_ALREADY_EXISTS");
}

// ---------------------------------------------------------------- link rows

async fn linked(env: &Env) -> (u64, u64, Value) {
    let people = env.table("People").await;
    let companies = env.table("Companies").await;
    let f = env.field(people, json!({"name": "Company", "type": "link_row", "link_row_table_id": companies})).await;
    for name in ["Acme", "Globex"] {
        env.create(companies, json!({"Name": name})).await;
    }
    (people, companies, f)
}

#[tokio::test]
async fn link_row_creates_reverse_field_on_linked_table() {
    let env = start().await;
    let (_, companies, f) = linked(&env).await;
    let related = f["link_row_related_field_id"].as_u64().unwrap();
    assert_eq!(f["related_fields"][0]["id"], related);
    let fields = env.get(&format!("/api/database/fields/table/{companies}/")).await;
    assert!(fields.body.as_array().unwrap().iter().any(|x| x["name"] == "People" && x["type"] == "link_row"));
}

#[tokio::test]
async fn link_row_accepts_ids_texts_and_csv_and_reads_id_value_order() {
    let env = start().await;
    let (people, companies, _) = linked(&env).await;
    let r = env.create(people, json!({"Company": [1]})).await;
    assert_eq!(r.body["Company"][0]["id"], 1);
    assert_eq!(r.body["Company"][0]["value"], "Acme");
    assert!(r.body["Company"][0]["order"].is_string());
    let r = env.create(people, json!({"Company": ["Globex"]})).await;
    assert_eq!(r.body["Company"][0]["id"], 2);
    let r = env.create(people, json!({"Company": "Acme,Globex"})).await;
    assert_eq!(r.body["Company"].as_array().unwrap().len(), 2);
    let back = env.get(&format!("/api/database/rows/table/{companies}/1/?user_field_names=true")).await;
    assert_eq!(back.body["People"].as_array().unwrap().len(), 2, "reverse side updated");
}

#[tokio::test]
async fn link_row_rejects_unmatched_text_and_mixed_types() {
    let env = start().await;
    let (people, _, _) = linked(&env).await;
    rejected(&env, people, json!({"Company": ["Initech"]}), "Company").await;
    let e = rejected(&env, people, json!({"Company": [1, "Acme"]}), "Company").await;
    assert_eq!(e["code"], "not_same_type");
}

#[tokio::test]
async fn dangling_link_id_is_accepted_reads_empty_and_rewriting_it_crashes_with_html_500() {
    let env = start().await;
    let (people, _, _) = linked(&env).await;
    let r = env.create(people, json!({"Company": [999]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["Company"], json!([]));
    let id = r.body["id"].as_u64().unwrap();
    let again = env.patch(people, id, json!({"Company": [999]})).await;
    assert_eq!(again.status, 500);
    assert!(again.text.contains("<html"), "{}", again.text);
    let other = env.patch(people, id, json!({"Company": [1]})).await;
    assert_eq!(other.status, 200, "writing without the dangling id works");
}

#[tokio::test]
async fn link_change_updates_last_modified_of_linked_row() {
    let env = start().await;
    let (people, companies, _) = linked(&env).await;
    env.field(companies, json!({"name": "Modified", "type": "last_modified", "date_include_time": true})).await;
    let before = env.get(&format!("/api/database/rows/table/{companies}/1/?user_field_names=true")).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    env.create(people, json!({"Company": [1]})).await;
    let after = env.get(&format!("/api/database/rows/table/{companies}/1/?user_field_names=true")).await;
    assert_ne!(before.body["Modified"], after.body["Modified"]);
}
