//! Business endpoints. Note the spec's own spelling: create/update answer
//! `{success, buiseness}`. Businesses emit no webhooks (FACTS.md lists none).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::{Principal, check_location};
use super::errors::{GhlError, GhlResult};
use super::input::{json_object, query_map, query_usize};
use super::state::{Doc, SimState, Store, lock, object_id, str_field};

const FIELDS: &[&str] = &[
    "name",
    "phone",
    "email",
    "website",
    "address",
    "city",
    "state",
    "postalCode",
    "country",
    "description",
];

pub fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/businesses/", get(list_businesses).post(create_business))
        .route(
            "/businesses/{businessId}",
            get(get_business)
                .put(update_business)
                .delete(delete_business),
        )
}

fn validate(input: &Doc, create: bool) -> GhlResult<()> {
    let mut errors = Vec::new();
    if create {
        if str_field(input, "name").is_none_or(str::is_empty) {
            errors.push("name should not be empty".to_owned());
        }
        if str_field(input, "locationId").is_none_or(str::is_empty) {
            errors.push("locationId should not be empty".to_owned());
        }
    }
    for f in FIELDS {
        if input
            .get(*f)
            .is_some_and(|v| !(v.is_string() || v.is_null()))
        {
            errors.push(format!("{f} must be a string"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(GhlError::Unprocessable(errors))
    }
}

fn apply(doc: &mut Doc, input: &Doc, now: &str) {
    for f in FIELDS {
        if let Some(v) = input.get(*f) {
            doc.insert((*f).into(), v.clone());
        }
    }
    doc.insert("updatedAt".into(), Value::String(now.to_owned()));
}

/// Creates a business as `POST /businesses/` does; used by seeds too.
pub fn insert_business(store: &mut Store, location_id: &str, input: &Doc) -> GhlResult<Doc> {
    validate(input, true)?;
    let now = store.now_iso();
    let mut doc = Doc::new();
    doc.insert("id".into(), Value::String(object_id()));
    doc.insert("locationId".into(), Value::String(location_id.to_owned()));
    doc.insert("createdAt".into(), Value::String(now.clone()));
    apply(&mut doc, input, &now);
    store.businesses.push(doc.clone());
    Ok(doc)
}

fn business_mut<'a>(store: &'a mut Store, p: &Principal, id: &str) -> GhlResult<&'a mut Doc> {
    store
        .businesses
        .iter_mut()
        .find(|b| {
            str_field(b, "id") == Some(id)
                && str_field(b, "locationId") == Some(p.location_id.as_str())
        })
        .ok_or_else(|| GhlError::NotFound("Business not found".into()))
}

async fn list_businesses(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    RawQuery(q): RawQuery,
) -> GhlResult<Json<Value>> {
    let q = query_map(q.as_deref());
    check_location(&p, q.get("locationId").map(String::as_str))?;
    let limit = query_usize(&q, "limit", 100)?;
    let skip = query_usize(&q, "skip", 0)?;
    let store = lock(&st.store);
    let list: Vec<&Doc> = store
        .businesses
        .iter()
        .filter(|b| str_field(b, "locationId") == Some(p.location_id.as_str()))
        .skip(skip)
        .take(limit)
        .collect();
    Ok(Json(json!({"businesses": list})))
}

async fn get_business(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> GhlResult<Json<Value>> {
    let mut store = lock(&st.store);
    let doc = business_mut(&mut store, &p, &id)?;
    Ok(Json(json!({"business": doc})))
}

async fn create_business(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> GhlResult<(StatusCode, Json<Value>)> {
    let input = json_object(&body)?;
    validate(&input, true)?;
    check_location(&p, str_field(&input, "locationId"))?;
    let doc = insert_business(&mut lock(&st.store), &p.location_id, &input)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"success": true, "buiseness": doc})),
    ))
}

async fn update_business(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    validate(&input, false)?;
    let mut store = lock(&st.store);
    let now = store.now_iso();
    let doc = business_mut(&mut store, &p, &id)?;
    apply(doc, &input, &now);
    Ok(Json(json!({"success": true, "buiseness": doc})))
}

/// Deleting a business also unlinks its contacts, so no contact points at a missing business.
async fn delete_business(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> GhlResult<Json<Value>> {
    let mut store = lock(&st.store);
    business_mut(&mut store, &p, &id)?;
    store
        .businesses
        .retain(|b| str_field(b, "id") != Some(id.as_str()));
    let linked: Vec<Doc> = store
        .contacts
        .values()
        .filter(|c| str_field(c, "businessId") == Some(id.as_str()))
        .cloned()
        .collect();
    for mut c in linked {
        c.remove("businessId");
        store.put_contact(c);
    }
    Ok(Json(json!({"success": true})))
}
