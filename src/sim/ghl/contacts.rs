//! Contact endpoints: CRUD, upsert, tags and the bulk operations.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::{Principal, check_location};
use super::contact_model::{self as model, Mode};
use super::errors::{GhlError, GhlResult};
use super::input::json_object;
use super::state::{Doc, SimState, Store, lock, str_field};
use super::webhooks::{contact_event, emit};

pub fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/contacts/", post(create_contact))
        .route("/contacts/upsert", post(upsert_contact))
        .route(
            "/contacts/{contactId}",
            get(get_contact).put(update_contact).delete(delete_contact),
        )
        .route(
            "/contacts/{contactId}/tags",
            post(add_tags).delete(remove_tags),
        )
        .route("/contacts/bulk/business", post(bulk_business))
        .route("/contacts/bulk/tags/update/{type}", post(bulk_tags))
}

/// The contact `id` of the caller's location, or GHL's not-found answer.
pub fn contact_of<'a>(store: &'a Store, p: &Principal, id: &str) -> GhlResult<&'a Doc> {
    store
        .contacts
        .get(id)
        .filter(|c| str_field(c, "locationId") == Some(p.location_id.as_str()))
        .ok_or_else(|| GhlError::NotFound("Contact not found".into()))
}

/// Creates a contact as `POST /contacts/` does, without webhook; used by seeds too.
pub fn insert_contact(st: &SimState, location_id: &str, input: &Doc) -> GhlResult<Doc> {
    model::validate(input, Mode::Create)?;
    let mut store = lock(&st.store);
    if !st.config.allow_duplicates
        && let Some(dup) = model::find_duplicate(&store, input, None)
    {
        return Err(dup);
    }
    let doc = model::new_contact(&mut store, location_id, input);
    store.put_contact(doc.clone());
    Ok(doc)
}

async fn create_contact(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> GhlResult<(StatusCode, Json<Value>)> {
    let input = json_object(&body)?;
    model::validate(&input, Mode::Create)?;
    check_location(&p, str_field(&input, "locationId"))?;
    let doc = insert_contact(&st, &p.location_id, &input)?;
    emit(&st, "ContactCreate", contact_event(&doc));
    Ok((StatusCode::CREATED, Json(json!({"contact": doc}))))
}

async fn get_contact(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> GhlResult<Json<Value>> {
    let store = lock(&st.store);
    let doc = contact_of(&store, &p, &id)?;
    Ok(Json(json!({"contact": doc})))
}

/// Applies an update to a stored contact and emits the matching webhooks.
fn update_stored(st: &SimState, p: &Principal, id: &str, input: &Doc) -> GhlResult<Doc> {
    let mut store = lock(&st.store);
    let before = contact_of(&store, p, id)?.clone();
    if !st.config.allow_duplicates
        && let Some(dup) = model::find_duplicate(&store, input, Some(id))
    {
        return Err(dup);
    }
    let mut doc = before.clone();
    let now = store.now_iso();
    model::apply(&mut store, &mut doc, input, &now);
    store.put_contact(doc.clone());
    drop(store);
    emit(st, "ContactUpdate", contact_event(&doc));
    if before.get("tags") != doc.get("tags") {
        emit(st, "ContactTagUpdate", contact_event(&doc));
    }
    if before.get("dnd") != doc.get("dnd") {
        emit(st, "ContactDndUpdate", contact_event(&doc));
    }
    Ok(doc)
}

async fn update_contact(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    model::validate(&input, Mode::Update)?;
    let doc = update_stored(&st, &p, &id, &input)?;
    Ok(Json(json!({"succeded": true, "contact": doc})))
}

async fn delete_contact(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> GhlResult<Json<Value>> {
    let doc = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &id)?;
        store.remove_contact(&id)
    };
    if let Some(doc) = doc {
        emit(&st, "ContactDelete", contact_event(&doc));
    }
    Ok(Json(json!({"succeded": true})))
}

/// Upsert follows the location's duplicate rule: match by email, then phone; update the match
/// or create. With duplicates allowed and `createNewIfDuplicateAllowed`, it always creates.
async fn upsert_contact(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    model::validate(&input, Mode::Create)?;
    check_location(&p, str_field(&input, "locationId"))?;
    let always_create = st.config.allow_duplicates
        && input
            .get("createNewIfDuplicateAllowed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let existing = if always_create {
        None
    } else {
        match model::find_duplicate(&lock(&st.store), &input, None) {
            Some(GhlError::Duplicate { contact_id, .. }) => Some(contact_id),
            _ => None,
        }
    };
    let trace_id = uuid::Uuid::new_v4().to_string();
    let mut update = input.clone();
    update.remove("locationId");
    update.remove("createNewIfDuplicateAllowed");
    if let Some(id) = existing {
        let doc = update_stored(&st, &p, &id, &update)?;
        return Ok(Json(
            json!({"new": false, "contact": doc, "traceId": trace_id}),
        ));
    }
    let doc = {
        let mut store = lock(&st.store);
        let doc = model::new_contact(&mut store, &p.location_id, &update);
        store.put_contact(doc.clone());
        doc
    };
    emit(&st, "ContactCreate", contact_event(&doc));
    Ok(Json(
        json!({"new": true, "contact": doc, "traceId": trace_id}),
    ))
}

fn tags_input(body: &Bytes) -> GhlResult<Vec<String>> {
    let input = json_object(body)?;
    match input.get("tags") {
        Some(Value::Array(t)) if t.iter().all(Value::is_string) => Ok(model::normalize_tags(t)),
        Some(Value::Array(_)) => Err(GhlError::unprocessable(
            "each value in tags must be a string",
        )),
        _ => Err(GhlError::Unprocessable(vec![
            "tags should not be empty".into(),
            "tags must be an array".into(),
        ])),
    }
}

/// Adds or removes tags on one stored contact; returns the resulting tags and whether they changed.
fn change_tags(
    store: &mut Store,
    id: &str,
    tags: &[String],
    add: bool,
    clear: bool,
) -> Option<(Doc, bool)> {
    let now = store.now_iso();
    let mut doc = store.contacts.get(id)?.clone();
    let mut current: Vec<String> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let before = current.clone();
    if clear {
        current.clear();
    } else if add {
        current.extend(tags.iter().filter(|t| !before.contains(t)).cloned());
    } else {
        current.retain(|t| !tags.contains(t));
    }
    let changed = before != current;
    doc.insert("tags".into(), Value::from(current));
    if changed {
        doc.insert("dateUpdated".into(), Value::String(now));
        store.put_contact(doc.clone());
    }
    Some((doc, changed))
}

async fn tags_handler(
    st: Arc<SimState>,
    p: Principal,
    id: String,
    body: Bytes,
    add: bool,
) -> GhlResult<Value> {
    let tags = tags_input(&body)?;
    let (doc, changed) = {
        let mut store = lock(&st.store);
        contact_of(&store, &p, &id)?;
        change_tags(&mut store, &id, &tags, add, false)
            .ok_or_else(|| GhlError::NotFound("Contact not found".into()))?
    };
    if changed {
        emit(&st, "ContactTagUpdate", contact_event(&doc));
    }
    Ok(json!({"tags": doc.get("tags").cloned().unwrap_or_else(|| json!([]))}))
}

async fn add_tags(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> GhlResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(tags_handler(st, p, id, body, true).await?),
    ))
}

async fn remove_tags(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    Ok(Json(tags_handler(st, p, id, body, false).await?))
}

fn string_list(input: &Doc, field: &str) -> GhlResult<Vec<String>> {
    match input.get(field) {
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()),
        _ => Err(GhlError::Unprocessable(vec![
            format!("{field} must be an array"),
            format!("each value in {field} must be a string"),
        ])),
    }
}

async fn bulk_tags(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(kind): Path<String>,
    body: Bytes,
) -> GhlResult<(StatusCode, Json<Value>)> {
    let add = match kind.as_str() {
        "add" => true,
        "remove" => false,
        _ => {
            return Err(GhlError::unprocessable(
                "type must be one of the following values: add, remove",
            ));
        }
    };
    let input = json_object(&body)?;
    let ids = string_list(&input, "contacts")?;
    let tags = model::normalize_tags(
        &string_list(&input, "tags")?
            .into_iter()
            .map(Value::String)
            .collect::<Vec<_>>(),
    );
    check_location(&p, str_field(&input, "locationId"))?;
    let clear = !add
        && input
            .get("removeAllTags")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let mut responses = Vec::new();
    let mut changed_docs = Vec::new();
    {
        let mut store = lock(&st.store);
        for id in &ids {
            let found = contact_of(&store, &p, id).is_ok();
            match found
                .then(|| change_tags(&mut store, id, &tags, add, clear))
                .flatten()
            {
                Some((doc, changed)) => {
                    if changed {
                        changed_docs.push(doc);
                    }
                    responses.push(
                        json!({"contactId": id, "message": "Tags updated", "type": "success"}),
                    );
                }
                None => responses.push(
                    json!({"contactId": id, "message": "Contact not found", "type": "error"}),
                ),
            }
        }
    }
    for doc in &changed_docs {
        emit(&st, "ContactTagUpdate", contact_event(doc));
    }
    let errors = responses.iter().filter(|r| r["type"] == "error").count();
    Ok((
        StatusCode::CREATED,
        Json(json!({"succeded": errors == 0, "errorCount": errors, "responses": responses})),
    ))
}

async fn bulk_business(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    let ids = string_list(&input, "ids")?;
    check_location(&p, str_field(&input, "locationId"))?;
    let business = match input.get("businessId") {
        Some(Value::Null) => None,
        Some(Value::String(b)) => Some(b.clone()),
        _ => return Err(GhlError::unprocessable("businessId must be a string")),
    };
    let mut updated = Vec::new();
    let mut docs = Vec::new();
    {
        let mut store = lock(&st.store);
        if let Some(b) = &business
            && !store
                .businesses
                .iter()
                .any(|d| str_field(d, "id") == Some(b.as_str()))
        {
            return Err(GhlError::BadRequest("Business not found".into()));
        }
        for id in &ids {
            let Ok(current) = contact_of(&store, &p, id) else {
                continue;
            };
            let mut doc = current.clone();
            match &business {
                Some(b) => doc.insert("businessId".into(), Value::String(b.clone())),
                None => doc.remove("businessId"),
            };
            doc.insert("dateUpdated".into(), Value::String(store.now_iso()));
            store.put_contact(doc.clone());
            updated.push(id.clone());
            docs.push(doc);
        }
    }
    for doc in &docs {
        emit(&st, "ContactUpdate", contact_event(doc));
    }
    Ok(Json(json!({"success": true, "ids": updated})))
}
