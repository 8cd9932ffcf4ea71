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
    let sim = BaserowSim::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
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
    let mut env = Env {
        sim,
        http,
        base,
        jwt,
        workspace: 0,
        database: 0,
    };
    let ws = env
        .admin(Method::POST, "/api/workspaces/", json!({"name": "WS"}))
        .await;
    env.workspace = ws.body["id"].as_u64().unwrap();
    let db = env
        .admin(
            Method::POST,
            &format!("/api/applications/workspace/{}/", env.workspace),
            json!({"type": "database", "name": "DB"}),
        )
        .await;
    env.database = db.body["id"].as_u64().unwrap();
    env
}

async fn start() -> Env {
    start_with(BaserowSimConfig {
        sample_table_data: false,
        ..Default::default()
    })
    .await
}

impl Env {
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<String>,
        body: Option<Value>,
    ) -> Reply {
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
        let r = self
            .admin(
                Method::POST,
                &format!("/api/database/tables/database/{}/", self.database),
                json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["id"].as_u64().unwrap()
    }

    async fn field(&self, table: u64, body: Value) -> Value {
        let r = self
            .admin(
                Method::POST,
                &format!("/api/database/fields/table/{table}/"),
                body,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    async fn token(&self) -> (u64, String) {
        let r = self
            .admin(
                Method::POST,
                "/api/database/tokens/",
                json!({"name": "t", "workspace": self.workspace}),
            )
            .await;
        (
            r.body["id"].as_u64().unwrap(),
            format!("Token {}", r.body["key"].as_str().unwrap()),
        )
    }

    /// Creates a row with user field names via the JWT.
    async fn create(&self, table: u64, body: Value) -> Reply {
        self.admin(
            Method::POST,
            &format!("/api/database/rows/table/{table}/?user_field_names=true"),
            body,
        )
        .await
    }

    async fn patch(&self, table: u64, row: u64, body: Value) -> Reply {
        self.admin(
            Method::PATCH,
            &format!("/api/database/rows/table/{table}/{row}/?user_field_names=true"),
            body,
        )
        .await
    }

    async fn list(&self, table: u64, query: &str) -> Reply {
        self.get(&format!(
            "/api/database/rows/table/{table}/?user_field_names=true&{query}"
        ))
        .await
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
    let apps = env
        .get(&format!("/api/applications/workspace/{}/", env.workspace))
        .await;
    assert_eq!(apps.body[0]["type"], "database");
    let table = env.table("Contacts").await;
    let tables = env
        .get(&format!("/api/database/tables/database/{}/", env.database))
        .await;
    assert_eq!(tables.body[0]["name"], "Contacts");
    let fields = env
        .get(&format!("/api/database/fields/table/{table}/"))
        .await;
    let field_names: Vec<&str> = fields
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        field_names,
        ["Name", "Notes", "Active"],
        "sample fields like the real server"
    );
    assert_eq!(fields.body[0]["primary"], true);
    assert_eq!(env.sim.rows(table).len(), 2, "two sample rows");
    let primary = fields.body[0]["id"].as_u64().unwrap();
    let renamed = env
        .admin(
            Method::PATCH,
            &format!("/api/database/fields/{primary}/"),
            json!({"name": "Email key"}),
        )
        .await;
    assert_eq!(renamed.body["name"], "Email key");
    let (_, token) = env.token().await;
    let check = env
        .call(
            Method::GET,
            "/api/database/tokens/check/",
            Some(token.clone()),
            None,
        )
        .await;
    assert_eq!(check.body, json!({"token": "OK"}));
    let with_token = env
        .call(
            Method::GET,
            &format!("/api/database/fields/table/{table}/"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(with_token.status, 200);
    let listed = env.get("/api/database/tokens/").await;
    assert_eq!(listed.body[0]["permissions"]["read"], true);
}

#[tokio::test]
async fn wrong_password_is_rejected_with_baserow_error() {
    let env = start().await;
    let r = env
        .call(
            Method::POST,
            "/api/user/token-auth/",
            None,
            Some(json!({"email": "admin@example.com", "password": "nope"})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "ERROR_INVALID_CREDENTIALS");
}

#[tokio::test]
async fn refresh_token_issues_a_new_access_token() {
    let env = start().await;
    let login = env
        .call(
            Method::POST,
            "/api/user/token-auth/",
            None,
            Some(json!({"email": "admin@example.com", "password": "password"})),
        )
        .await;
    let refresh = login.body["refresh_token"].as_str().unwrap();
    let r = env
        .call(
            Method::POST,
            "/api/user/token-refresh/",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    let access = r.body["access_token"].as_str().unwrap();
    let ws = env
        .call(
            Method::GET,
            "/api/workspaces/",
            Some(format!("JWT {access}")),
            None,
        )
        .await;
    assert_eq!(ws.status, 200);
}

#[tokio::test]
async fn expired_access_token_gets_401() {
    let env = start_with(BaserowSimConfig {
        access_token_ttl: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
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
        .call(
            Method::POST,
            &format!("/api/database/fields/table/{table}/"),
            Some(token.clone()),
            Some(json!({"name": "x", "type": "text"})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    let r = env
        .call(
            Method::GET,
            &format!("/api/database/webhooks/table/{table}/"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn no_auth_gets_detail_only_401() {
    let env = start().await;
    let table = env.table("T").await;
    let r = env
        .call(
            Method::GET,
            &format!("/api/database/rows/table/{table}/"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["detail"]
    );
}

#[tokio::test]
async fn unknown_token_gets_token_does_not_exist() {
    let env = start().await;
    let table = env.table("T").await;
    let r = env
        .call(
            Method::GET,
            &format!("/api/database/rows/table/{table}/"),
            Some("Token abcdefabcdefabcdefabcdefabcdefab".into()),
            None,
        )
        .await;
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
    let r = env
        .admin(Method::PATCH, &format!("/api/database/tokens/{id}/"), perms)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ok = env
        .call(
            Method::POST,
            &format!("/api/database/rows/table/{allowed}/"),
            Some(token.clone()),
            Some(json!({})),
        )
        .await;
    assert_eq!(ok.status, 200);
    let denied = env
        .call(
            Method::POST,
            &format!("/api/database/rows/table/{other}/"),
            Some(token.clone()),
            Some(json!({})),
        )
        .await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body["error"], "ERROR_NO_PERMISSION_TO_TABLE");
    let upd = env
        .call(
            Method::PATCH,
            &format!("/api/database/rows/table/{allowed}/1/"),
            Some(token.clone()),
            Some(json!({})),
        )
        .await;
    assert_eq!(upd.body["error"], "ERROR_NO_PERMISSION_TO_TABLE");
    let del = env
        .call(
            Method::DELETE,
            &format!("/api/database/rows/table/{allowed}/1/"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn token_permission_update_requires_all_four_keys() {
    let env = start().await;
    let (id, _) = env.token().await;
    let r = env
        .admin(
            Method::PATCH,
            &format!("/api/database/tokens/{id}/"),
            json!({"permissions": {"create": true}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "ERROR_REQUEST_BODY_VALIDATION");
}

#[tokio::test]
async fn missing_table_and_row_are_404() {
    let env = start().await;
    let table = env.table("T").await;
    let r = env.get("/api/database/rows/table/999/").await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (404, Some("ERROR_TABLE_DOES_NOT_EXIST"))
    );
    let r = env
        .get(&format!("/api/database/rows/table/{table}/42/"))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (404, Some("ERROR_ROW_DOES_NOT_EXIST"))
    );
}

// ---------------------------------------------------------------- field types

async fn field_table(env: &Env) -> u64 {
    let t = env.table("F").await;
    env.field(t, json!({"name": "Email", "type": "email"}))
        .await;
    env.field(t, json!({"name": "Phone", "type": "phone_number"}))
        .await;
    env.field(t, json!({"name": "Site", "type": "url"})).await;
    env.field(t, json!({"name": "Notes", "type": "long_text"}))
        .await;
    env.field(t, json!({"name": "Day", "type": "date"})).await;
    env.field(
        t,
        json!({"name": "At", "type": "date", "date_include_time": true}),
    )
    .await;
    env.field(t, json!({"name": "Done", "type": "boolean"}))
        .await;
    env.field(
        t,
        json!({"name": "Amount", "type": "number", "number_decimal_places": 2}),
    )
    .await;
    env.field(t, json!({"name": "Stage", "type": "single_select", "select_options": [{"value": "Lead", "color": "blue"}, {"value": "Won", "color": "green"}]})).await;
    env.field(t, json!({"name": "Tags", "type": "multiple_select", "select_options": [{"value": "a", "color": "red"}, {"value": "b", "color": "red"}]})).await;
    env.field(
        t,
        json!({"name": "Created", "type": "created_on", "date_include_time": true}),
    )
    .await;
    env.field(
        t,
        json!({"name": "Modified", "type": "last_modified", "date_include_time": true}),
    )
    .await;
    env.field(
        t,
        json!({"name": "RowId", "type": "formula", "formula": "row_id()"}),
    )
    .await;
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
    assert_eq!(
        rejected(&env, t, json!({"Email": "not-an-email"}), "Email").await["error"],
        "Enter a valid value."
    );
    assert_eq!(
        rejected(&env, t, json!({"Phone": "call me"}), "Phone").await["error"],
        "Enter a valid value."
    );
    assert_eq!(
        rejected(&env, t, json!({"Name": ["x"]}), "Name").await["code"],
        "invalid"
    );
}

#[tokio::test]
async fn number_reads_as_decimal_string_and_validates() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env.create(t, json!({"Amount": 9.5})).await;
    assert_eq!(r.body["Amount"], "9.50");
    let r = env.create(t, json!({"Amount": "12"})).await;
    assert_eq!(r.body["Amount"], "12.00");
    assert_eq!(
        rejected(&env, t, json!({"Amount": "abc"}), "Amount").await["code"],
        "invalid"
    );
    assert_eq!(
        rejected(&env, t, json!({"Amount": "1.234"}), "Amount").await["code"],
        "max_decimal_places"
    );
    assert_eq!(
        rejected(&env, t, json!({"Amount": -1}), "Amount").await["code"],
        "min_value"
    );
}

#[tokio::test]
async fn date_fields_follow_include_time() {
    let env = start().await;
    let t = field_table(&env).await;
    let r = env
        .create(
            t,
            json!({"Day": "2026-11-27", "At": "2026-11-27T10:30:00Z"}),
        )
        .await;
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
    assert_eq!(
        rejected(&env, t, json!({"Done": "maybe"}), "Done").await["error"],
        "Must be a valid boolean."
    );
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
    let values: Vec<&str> = r.body["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
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
    assert_eq!(
        created.len(),
        "2026-11-27T10:30:00.000000Z".len(),
        "microseconds: {created}"
    );
    rejected(
        &env,
        t,
        json!({"Created": "2026-01-01T00:00:00Z"}),
        "Created",
    )
    .await;
    rejected(
        &env,
        t,
        json!({"Modified": "2026-01-01T00:00:00Z"}),
        "Modified",
    )
    .await;
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
    let r = env
        .admin(
            Method::POST,
            &format!("/api/database/fields/table/{t}/"),
            json!({"name": "Name", "type": "text"}),
        )
        .await;
    assert_eq!(r.body["error"], "ERROR_FIELD_WITH_SAME_NAME_ALREADY_EXISTS");
}

// ---------------------------------------------------------------- link rows

async fn linked(env: &Env) -> (u64, u64, Value) {
    let people = env.table("People").await;
    let companies = env.table("Companies").await;
    let f = env
        .field(
            people,
            json!({"name": "Company", "type": "link_row", "link_row_table_id": companies}),
        )
        .await;
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
    let fields = env
        .get(&format!("/api/database/fields/table/{companies}/"))
        .await;
    assert!(
        fields
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "People" && x["type"] == "link_row")
    );
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
    let back = env
        .get(&format!(
            "/api/database/rows/table/{companies}/1/?user_field_names=true"
        ))
        .await;
    assert_eq!(
        back.body["People"].as_array().unwrap().len(),
        2,
        "reverse side updated"
    );
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
    env.field(
        companies,
        json!({"name": "Modified", "type": "last_modified", "date_include_time": true}),
    )
    .await;
    let before = env
        .get(&format!(
            "/api/database/rows/table/{companies}/1/?user_field_names=true"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    env.create(people, json!({"Company": [1]})).await;
    let after = env
        .get(&format!(
            "/api/database/rows/table/{companies}/1/?user_field_names=true"
        ))
        .await;
    assert_ne!(before.body["Modified"], after.body["Modified"]);
}

// ---------------------------------------------------------------- listing

async fn people(env: &Env, n: usize) -> u64 {
    let t = env.table("P").await;
    let items: Vec<Value> = (1..=n)
        .map(|i| json!({"Name": format!("p{i:03}")}))
        .collect();
    for chunk in items.chunks(200) {
        let r = env
            .admin(
                Method::POST,
                &format!("/api/database/rows/table/{t}/batch/?user_field_names=true"),
                json!({"items": chunk}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    t
}

#[tokio::test]
async fn list_pages_with_default_size_and_full_next_previous_urls() {
    let env = start().await;
    let t = people(&env, 250).await;
    let first = env.get(&format!("/api/database/rows/table/{t}/")).await;
    assert_eq!(first.body["count"], 250);
    assert_eq!(first.body["results"].as_array().unwrap().len(), 100);
    assert_eq!(
        first.body["next"],
        format!("{}/api/database/rows/table/{t}/?page=2", env.base)
    );
    assert_eq!(first.body["previous"], Value::Null);
    let third = env
        .get(&format!("/api/database/rows/table/{t}/?page=3&size=100"))
        .await;
    assert_eq!(third.body["results"].as_array().unwrap().len(), 50);
    assert_eq!(third.body["next"], Value::Null);
    assert_eq!(
        third.body["previous"],
        format!("{}/api/database/rows/table/{t}/?page=2&size=100", env.base)
    );
}

#[tokio::test]
async fn page_size_over_200_is_rejected_and_zero_or_garbage_means_default() {
    let env = start().await;
    let t = people(&env, 150).await;
    let r = env
        .get(&format!("/api/database/rows/table/{t}/?size=201"))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (400, Some("ERROR_PAGE_SIZE_LIMIT"))
    );
    for size in ["0", "abc"] {
        let r = env
            .get(&format!("/api/database/rows/table/{t}/?size={size}"))
            .await;
        assert_eq!(r.body["results"].as_array().unwrap().len(), 100);
    }
    let r = env
        .get(&format!("/api/database/rows/table/{t}/?size=200"))
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 150);
}

#[tokio::test]
async fn page_past_the_end_is_empty_with_previous_link() {
    let env = start().await;
    let t = people(&env, 3).await;
    let r = env
        .get(&format!("/api/database/rows/table/{t}/?page=5"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"], json!([]));
    assert_eq!(r.body["next"], Value::Null);
    assert!(r.body["previous"].as_str().unwrap().contains("page=4"));
}

#[tokio::test]
async fn without_user_field_names_keys_are_field_ids_in_requests_and_responses() {
    let env = start().await;
    let t = env.table("T").await;
    let fields = env.get(&format!("/api/database/fields/table/{t}/")).await;
    let name_id = fields.body[0]["id"].as_u64().unwrap();
    let key = format!("field_{name_id}");
    let r = env
        .admin(
            Method::POST,
            &format!("/api/database/rows/table/{t}/"),
            json!({&key: "x", "Name": "ignored"}),
        )
        .await;
    assert_eq!(r.body[&key], "x");
    assert!(r.body.get("Name").is_none());
    let list = env.get(&format!("/api/database/rows/table/{t}/")).await;
    assert_eq!(list.body["results"][0][&key], "x");
    assert_eq!(list.body["results"][0]["order"], "1.00000000000000000000");
}

#[tokio::test]
async fn order_by_sorts_and_unknown_field_is_rejected() {
    let env = start().await;
    let t = people(&env, 3).await;
    let r = env.list(t, "order_by=-Name").await;
    assert_eq!(names(&r, "Name"), ["p003", "p002", "p001"]);
    let r = env.list(t, "order_by=Nope").await;
    assert_eq!(r.body["error"], "ERROR_ORDER_BY_FIELD_NOT_FOUND");
}

#[tokio::test]
async fn search_and_include_exclude_shape_results() {
    let env = start().await;
    let t = people(&env, 12).await;
    env.field(t, json!({"name": "Extra", "type": "text"})).await;
    let r = env.list(t, "search=p011").await;
    assert_eq!(names(&r, "Name"), ["p011"]);
    let r = env.list(t, "include=Name&size=1").await;
    let keys: Vec<&String> = r.body["results"][0].as_object().unwrap().keys().collect();
    assert!(keys.contains(&&"Name".to_string()) && !keys.contains(&&"Extra".to_string()));
    let r = env.list(t, "exclude=Name&size=1").await;
    assert!(r.body["results"][0].get("Name").is_none());
}

// ---------------------------------------------------------------- filters

async fn filter_table(env: &Env) -> u64 {
    let t = env.table("Q").await;
    env.field(t, json!({"name": "Score", "type": "number"}))
        .await;
    env.field(t, json!({"name": "Vip", "type": "boolean"}))
        .await;
    env.field(t, json!({"name": "Due", "type": "date"})).await;
    env.field(
        t,
        json!({"name": "RowId", "type": "formula", "formula": "row_id()"}),
    )
    .await;
    for (name, score, vip, due) in [
        ("Ann", 5, true, "2026-11-26"),
        ("bob", 10, false, "2026-11-27"),
        ("Bob", 15, false, "2026-11-28"),
    ] {
        env.create(
            t,
            json!({"Name": name, "Score": score, "Vip": vip, "Due": due}),
        )
        .await;
    }
    env.create(t, json!({})).await;
    t
}

async fn json_filter(env: &Env, t: u64, filters: Value) -> Vec<String> {
    let r = env
        .list(t, &format!("filters={}", enc(&filters.to_string())))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    names(&r, "Name")
}

async fn one(env: &Env, t: u64, kind: &str, field: &str, value: &str) -> Vec<String> {
    json_filter(
        env,
        t,
        json!({"filter_type": "AND", "filters": [{"field": field, "type": kind, "value": value}]}),
    )
    .await
}

#[tokio::test]
async fn equal_filter_is_case_sensitive_and_not_equal_negates() {
    let env = start().await;
    let t = filter_table(&env).await;
    assert_eq!(one(&env, t, "equal", "Name", "Bob").await, ["Bob"]);
    assert_eq!(
        one(&env, t, "not_equal", "Name", "Bob").await,
        ["Ann", "bob", ""]
    );
}

#[tokio::test]
async fn contains_filters_ignore_case() {
    let env = start().await;
    let t = filter_table(&env).await;
    assert_eq!(one(&env, t, "contains", "Name", "BO").await, ["bob", "Bob"]);
    assert_eq!(
        one(&env, t, "contains_not", "Name", "bo").await,
        ["Ann", ""]
    );
}

#[tokio::test]
async fn empty_and_not_empty_filters() {
    let env = start().await;
    let t = filter_table(&env).await;
    assert_eq!(one(&env, t, "empty", "Name", "").await, [""]);
    assert_eq!(one(&env, t, "not_empty", "Name", "").await.len(), 3);
}

#[tokio::test]
async fn boolean_filter_matches_checked_rows() {
    let env = start().await;
    let t = filter_table(&env).await;
    assert_eq!(one(&env, t, "boolean", "Vip", "1").await, ["Ann"]);
}

#[tokio::test]
async fn higher_and_lower_than_filters_compare_numbers() {
    let env = start().await;
    let t = filter_table(&env).await;
    assert_eq!(
        one(&env, t, "higher_than", "Score", "5").await,
        ["bob", "Bob"]
    );
    assert_eq!(one(&env, t, "lower_than", "Score", "10").await, ["Ann"]);
}

#[tokio::test]
async fn date_filters_work_to_the_day() {
    let env = start().await;
    let t = filter_table(&env).await;
    assert_eq!(
        one(&env, t, "date_is", "Due", "UTC?2026-11-27?exact_date").await,
        ["bob"]
    );
    assert_eq!(
        one(&env, t, "date_is_after", "Due", "UTC?2026-11-27?exact_date").await,
        ["Bob"]
    );
    assert_eq!(
        one(
            &env,
            t,
            "date_is_before",
            "Due",
            "UTC?2026-11-27?exact_date"
        )
        .await,
        ["Ann"]
    );
}

#[tokio::test]
async fn link_row_has_filter_matches_linked_rows() {
    let env = start().await;
    let (people, _, _) = linked(&env).await;
    env.create(people, json!({"Name": "x", "Company": [2]}))
        .await;
    env.create(people, json!({"Name": "y", "Company": [1]}))
        .await;
    assert_eq!(
        one(&env, people, "link_row_has", "Company", "2").await,
        ["x"]
    );
}

#[tokio::test]
async fn or_filters_with_nested_groups() {
    let env = start().await;
    let t = filter_table(&env).await;
    let tree = json!({"filter_type": "OR", "filters": [{"field": "Name", "type": "equal", "value": "Ann"}],
        "groups": [{"filter_type": "AND", "filters": [{"field": "Score", "type": "higher_than", "value": "5"}, {"field": "Name", "type": "equal", "value": "Bob"}]}]});
    assert_eq!(json_filter(&env, t, tree).await, ["Ann", "Bob"]);
}

#[tokio::test]
async fn formula_row_id_with_or_equal_filters_reads_rows_by_id() {
    let env = start().await;
    let t = filter_table(&env).await;
    let tree = json!({"filter_type": "OR", "filters": [{"field": "RowId", "type": "equal", "value": "1"}, {"field": "RowId", "type": "equal", "value": "3"}]});
    assert_eq!(json_filter(&env, t, tree).await, ["Ann", "Bob"]);
}

#[tokio::test]
async fn filter_on_id_is_field_not_found() {
    let env = start().await;
    let t = filter_table(&env).await;
    let tree = json!({"filters": [{"field": "id", "type": "equal", "value": "1"}]});
    let r = env
        .list(t, &format!("filters={}", enc(&tree.to_string())))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (400, Some("ERROR_FILTER_FIELD_NOT_FOUND"))
    );
}

#[tokio::test]
async fn legacy_filters_by_id_and_name_with_or() {
    let env = start().await;
    let t = filter_table(&env).await;
    let fields = env.get(&format!("/api/database/fields/table/{t}/")).await;
    let name_id = fields.body[0]["id"].as_u64().unwrap();
    let r = env
        .list(
            t,
            &format!("filter__field_{name_id}__equal=Ann&filter__Name__equal=Bob&filter_type=OR"),
        )
        .await;
    assert_eq!(names(&r, "Name"), ["Ann", "Bob"]);
    let r = env
        .list(
            t,
            "filter__Score__higher_than=5&filter__Score__lower_than=15",
        )
        .await;
    assert_eq!(names(&r, "Name"), ["bob"]);
}

#[tokio::test]
async fn include_trap_json_filter_fails_but_legacy_filter_is_silently_ignored() {
    let env = start().await;
    let t = filter_table(&env).await;
    let tree = json!({"filters": [{"field": "Score", "type": "equal", "value": "5"}]});
    let r = env
        .list(
            t,
            &format!("include=Name&filters={}", enc(&tree.to_string())),
        )
        .await;
    assert_eq!(r.body["error"], "ERROR_FILTER_FIELD_NOT_FOUND");
    let r = env.list(t, "include=Name&filter__Score__equal=5").await;
    assert_eq!(
        r.body["count"], 4,
        "legacy filter dropped: every row comes back"
    );
    let r = env
        .list(t, "include=Name,Score&filter__Score__equal=5")
        .await;
    assert_eq!(names(&r, "Name"), ["Ann"]);
}

#[tokio::test]
async fn malformed_filters_json_is_a_param_validation_error() {
    let env = start().await;
    let t = filter_table(&env).await;
    let r = env.list(t, "filters=%7Bnope").await;
    assert_eq!(r.body["error"], "ERROR_FILTERS_PARAM_VALIDATION_ERROR");
}

// ---------------------------------------------------------------- batch

#[tokio::test]
async fn batch_over_200_items_is_rejected() {
    let env = start().await;
    let t = env.table("T").await;
    let items: Vec<Value> = (0..201).map(|_| json!({})).collect();
    let r = env
        .admin(
            Method::POST,
            &format!("/api/database/rows/table/{t}/batch/"),
            json!({"items": items}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["detail"]["items"][0]["error"],
        "Ensure this field has no more than 200 elements."
    );
}

#[tokio::test]
async fn batch_validation_errors_are_reported_per_item_and_nothing_is_written() {
    let env = start().await;
    let t = field_table(&env).await;
    let body = json!({"items": [{"Email": "a@b.co"}, {"Email": "bad"}]});
    let r = env
        .admin(
            Method::POST,
            &format!("/api/database/rows/table/{t}/batch/?user_field_names=true"),
            body,
        )
        .await;
    assert_eq!(r.body["error"], "ERROR_REQUEST_BODY_VALIDATION");
    assert_eq!(
        r.body["detail"]["items"]["1"]["Email"][0]["code"],
        "invalid"
    );
    assert!(env.sim.rows(t).is_empty());
}

#[tokio::test]
async fn batch_update_with_a_missing_id_fails_whole_batch() {
    let env = start().await;
    let t = people(&env, 2).await;
    let body = json!({"items": [{"id": 1, "Name": "new"}, {"id": 99, "Name": "x"}]});
    let r = env
        .admin(
            Method::PATCH,
            &format!("/api/database/rows/table/{t}/batch/?user_field_names=true"),
            body,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (404, Some("ERROR_ROW_DOES_NOT_EXIST"))
    );
    assert_eq!(env.sim.rows(t)[0]["Name"], "p001");
    let ok = json!({"items": [{"id": 1, "Name": "new"}]});
    let r = env
        .admin(
            Method::PATCH,
            &format!("/api/database/rows/table/{t}/batch/?user_field_names=true"),
            ok,
        )
        .await;
    assert_eq!(r.body["items"][0]["Name"], "new");
}

#[tokio::test]
async fn batch_delete_returns_204() {
    let env = start().await;
    let t = people(&env, 3).await;
    let r = env
        .admin(
            Method::POST,
            &format!("/api/database/rows/table/{t}/batch-delete/"),
            json!({"items": [1, 2]}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(env.sim.rows(t).len(), 1);
}

#[tokio::test]
async fn single_row_delete_returns_204_then_404() {
    let env = start().await;
    let t = people(&env, 1).await;
    let r = env
        .call(
            Method::DELETE,
            &format!("/api/database/rows/table/{t}/1/"),
            env.jwt(),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = env
        .call(
            Method::DELETE,
            &format!("/api/database/rows/table/{t}/1/"),
            env.jwt(),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

// ---------------------------------------------------------------- webhooks

struct Received {
    headers: axum::http::HeaderMap,
    body: Value,
}

/// A loopback receiver that answers `status` and forwards every call.
async fn receiver(status: u16) -> (String, tokio::sync::mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let _ = tx.send(Received { headers, body });
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
}

async fn webhook(env: &Env, table: u64, url: &str, extra: Value) -> Value {
    let mut body = json!({"url": url, "name": "hook", "include_all_events": true, "headers": {"X-Secret": "s3cret"}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = env
        .admin(
            Method::POST,
            &format!("/api/database/webhooks/table/{table}/"),
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn fast_webhooks() -> BaserowSimConfig {
    BaserowSimConfig {
        sample_table_data: false,
        webhook_retry_base: Duration::from_millis(5),
        ..Default::default()
    }
}

#[tokio::test]
async fn webhook_rows_created_payload_and_headers() {
    let env = start_with(fast_webhooks()).await;
    let t = env.table("T").await;
    let (url, mut rx) = receiver(200).await;
    let hook = webhook(&env, t, &url, json!({})).await;
    env.create(t, json!({"Name": "Ann"})).await;
    let got = next(&mut rx).await;
    assert_eq!(got.body["event_type"], "rows.created");
    assert_eq!(got.body["table_id"], t);
    assert_eq!(got.body["database_id"], env.database);
    assert_eq!(got.body["workspace_id"], env.workspace);
    assert_eq!(got.body["webhook_id"], hook["id"]);
    assert_eq!(got.body["items"][0]["Name"], "Ann");
    assert_eq!(got.headers["x-baserow-event"], "rows.created");
    assert_eq!(
        got.headers["x-baserow-delivery"],
        got.body["event_id"].as_str().unwrap()
    );
    assert_eq!(got.headers["x-secret"], "s3cret");
    assert_eq!(got.headers["content-type"], "application/json");
}

#[tokio::test]
async fn webhook_rows_updated_carries_old_items_and_deleted_carries_row_ids() {
    let env = start_with(fast_webhooks()).await;
    let t = env.table("T").await;
    env.create(t, json!({"Name": "Ann"})).await;
    let (url, mut rx) = receiver(200).await;
    webhook(&env, t, &url, json!({"use_user_field_names": false})).await;
    env.patch(t, 1, json!({"Name": "Anne"})).await;
    let got = next(&mut rx).await;
    assert_eq!(got.body["event_type"], "rows.updated");
    let key = got.body["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with("field_"))
        .unwrap()
        .clone();
    assert_eq!(got.body["items"][0][&key], "Anne");
    assert_eq!(got.body["old_items"][0][&key], "Ann");
    env.call(
        Method::DELETE,
        &format!("/api/database/rows/table/{t}/1/"),
        env.jwt(),
        None,
    )
    .await;
    let got = next(&mut rx).await;
    assert_eq!(got.body["event_type"], "rows.deleted");
    assert_eq!(got.body["row_ids"], json!([1]));
}

#[tokio::test]
async fn send_webhook_events_false_suppresses_delivery() {
    let env = start_with(fast_webhooks()).await;
    let t = env.table("T").await;
    let (url, mut rx) = receiver(200).await;
    webhook(&env, t, &url, json!({})).await;
    env.admin(
        Method::POST,
        &format!("/api/database/rows/table/{t}/?send_webhook_events=false"),
        json!({}),
    )
    .await;
    env.create(t, json!({"Name": "visible"})).await;
    let got = next(&mut rx).await;
    assert_eq!(got.body["items"][0]["Name"], "visible");
}

#[tokio::test]
async fn link_change_fires_rows_updated_on_the_linked_table() {
    let env = start_with(fast_webhooks()).await;
    let (people, companies, _) = linked(&env).await;
    let (url, mut rx) = receiver(200).await;
    webhook(&env, companies, &url, json!({})).await;
    env.create(people, json!({"Name": "x", "Company": [1]}))
        .await;
    let got = next(&mut rx).await;
    assert_eq!(got.body["event_type"], "rows.updated");
    assert_eq!(got.body["items"][0]["id"], 1);
    assert_eq!(got.body["old_items"][0]["People"], json!([]));
    assert_eq!(got.body["items"][0]["People"][0]["value"], "x");
}

#[tokio::test]
async fn webhook_is_deactivated_after_8_failures_and_can_be_reactivated() {
    let env = start_with(fast_webhooks()).await;
    let t = env.table("T").await;
    let (url, mut rx) = receiver(500).await;
    let hook = webhook(&env, t, &url, json!({})).await;
    let id = hook["id"].as_u64().unwrap();
    env.create(t, json!({"Name": "a"})).await;
    for _ in 0..8 {
        next(&mut rx).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let state = env.get(&format!("/api/database/webhooks/{id}/")).await;
    assert_eq!(state.body["active"], false);
    assert_eq!(state.body["failed_triggers"], 8);
    assert_eq!(env.sim.webhook_count(), 8);
    env.create(t, json!({"Name": "while inactive"})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err(), "inactive webhooks do not fire");
    let r = env
        .admin(
            Method::PATCH,
            &format!("/api/database/webhooks/{id}/"),
            json!({"active": true}),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["failed_triggers"], 0);
    env.create(t, json!({"Name": "after"})).await;
    assert_eq!(next(&mut rx).await.body["items"][0]["Name"], "after");
}

#[tokio::test]
async fn webhook_retries_until_the_receiver_recovers() {
    let env = start_with(fast_webhooks()).await;
    let t = env.table("T").await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let hook = webhook(&env, t, &dead_url, json!({})).await;
    let id = hook["id"].as_u64().unwrap();
    env.create(t, json!({"Name": "a"})).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let (url, mut rx) = receiver(200).await;
    env.admin(
        Method::PATCH,
        &format!("/api/database/webhooks/{id}/"),
        json!({"url": url}),
    )
    .await;
    assert_eq!(next(&mut rx).await.body["items"][0]["Name"], "a");
    let state = env.get(&format!("/api/database/webhooks/{id}/")).await;
    assert_eq!(state.body["failed_triggers"], 0);
    assert_eq!(state.body["active"], true);
}

#[tokio::test]
async fn webhooks_can_be_listed_and_deleted() {
    let env = start_with(fast_webhooks()).await;
    let t = env.table("T").await;
    let hook = webhook(&env, t, "http://127.0.0.1:9/x", json!({})).await;
    let list = env.get(&format!("/api/database/webhooks/table/{t}/")).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let r = env
        .call(
            Method::DELETE,
            &format!("/api/database/webhooks/{}/", hook["id"]),
            env.jwt(),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let list = env.get(&format!("/api/database/webhooks/table/{t}/")).await;
    assert_eq!(list.body, json!([]));
}

// ---------------------------------------------------------------- faults, limits, stats

#[tokio::test]
async fn requests_are_counted_by_route_excluding_sim_routes() {
    let env = start().await;
    let t = env.table("T").await;
    env.list(t, "").await;
    env.list(t, "").await;
    env.get("/_sim/stats").await;
    let by_route = env.sim.requests_by_route();
    assert_eq!(by_route["GET /api/database/rows/table/{id}/"], 2);
    assert!(!by_route.keys().any(|k| k.contains("_sim")));
    let stats = env.get("/_sim/stats").await;
    assert_eq!(stats.body["request_count"], env.sim.request_count());
}

#[tokio::test]
async fn error_rate_faults_are_deterministic_for_a_seed() {
    let env = start().await;
    let t = env.table("T").await;
    let run = |env: &Env| {
        env.sim.set_faults(BaserowFaults {
            error_rate: 0.5,
            seed: 7,
            ..Default::default()
        });
    };
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        run(&env);
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(env.list(t, "").await.status.as_u16());
        }
        outcomes.push(statuses);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(outcomes[0].contains(&500) && outcomes[0].contains(&200));
}

#[tokio::test]
async fn faults_can_be_set_over_http() {
    let env = start().await;
    let t = env.table("T").await;
    let r = env
        .call(
            Method::POST,
            "/_sim/faults",
            None,
            Some(json!({"error_rate": 1.0, "seed": 1})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(env.list(t, "").await.status, 500);
    env.call(Method::POST, "/_sim/faults", None, Some(json!({})))
        .await;
    assert_eq!(env.list(t, "").await.status, 200);
}

#[tokio::test]
async fn an_injected_latency_delays_every_answer_by_at_least_that_much() {
    let env = start().await;
    let t = env.table("T").await;
    let latency = Duration::from_millis(40);
    env.sim.set_faults(BaserowFaults {
        latency,
        ..Default::default()
    });
    for _ in 0..3 {
        let sent = std::time::Instant::now();
        let r = env.list(t, "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            sent.elapsed() >= latency,
            "answered after {:?}",
            sent.elapsed()
        );
    }
}

#[tokio::test]
async fn hang_rate_makes_requests_time_out() {
    let env = start().await;
    let t = env.table("T").await;
    env.sim.set_faults(BaserowFaults {
        hang_rate: 1.0,
        ..Default::default()
    });
    let r = env
        .http
        .get(format!("{}/api/database/rows/table/{t}/", env.base))
        .header("Authorization", format!("JWT {}", env.jwt))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.is_err());
}

#[tokio::test]
async fn cloud_limits_answer_429_beyond_requests_per_second() {
    let limits = ghl_baserow_gateway::sim::baserow::RateLimits {
        max_concurrent: 10,
        requests_per_second: 20,
    };
    let env = start_with(BaserowSimConfig {
        sample_table_data: false,
        limits: Some(limits),
        ..Default::default()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(env.get("/api/workspaces/").await.status.as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let env = start().await;
    let base = env.base.clone();
    env.sim.shutdown().await;
    assert!(
        reqwest::get(format!("{base}/api/workspaces/"))
            .await
            .is_err()
    );
}
