//! Contact search and listing, all served from the lagging search index:
//! `POST /contacts/search` (filters, sort, page / searchAfter paging), the deprecated
//! `GET /contacts/`, and `GET /contacts/business/{businessId}`.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::{Principal, check_location};
use super::contact_model::reduced;
use super::errors::{GhlError, GhlResult};
use super::input::{json_object, query_map, query_usize};
use super::search_filter::{Filter, date_ms, parse_filters};
use super::state::{Doc, SimState, lock, str_field};

/// Page-based paging stops here; beyond it GHL requires `searchAfter`.
const PAGE_WINDOW: usize = 10_000;

pub fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/contacts/search", post(search))
        .route("/contacts/", get(list_contacts_deprecated))
        .route("/contacts/business/{businessId}", get(contacts_by_business))
}

/// The contacts of the caller's location that search can see now and that meet `keep`.
fn visible(st: &SimState, p: &Principal, keep: impl Fn(&Doc) -> bool) -> Vec<Doc> {
    let location = Some(p.location_id.as_str());
    lock(&st.store)
        .index
        .visible(|d| str_field(d, "locationId") == location && keep(d))
}

/// Free-text match over names, email, phone and company, case-insensitive.
fn matches_query(doc: &Doc, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    ["name", "firstName", "lastName", "email", "companyName"]
        .iter()
        .filter_map(|f| str_field(doc, f))
        .any(|v| v.to_lowercase().contains(&q))
        || (!digits.is_empty()
            && digits.len() == q.len()
            && str_field(doc, "phone").is_some_and(|p| p.contains(&digits)))
}

struct SortKey {
    field: String,
    desc: bool,
}

fn parse_sort(input: &Doc) -> GhlResult<Vec<SortKey>> {
    let Some(raw) = input.get("sort") else {
        return Ok(vec![SortKey {
            field: "dateAdded".into(),
            desc: true,
        }]);
    };
    let Some(items) = raw.as_array() else {
        return Err(GhlError::unprocessable("sort must be an array"));
    };
    items
        .iter()
        .map(|s| {
            let field = s
                .get("field")
                .and_then(Value::as_str)
                .filter(|f| !f.is_empty());
            let dir = s.get("direction").and_then(Value::as_str).unwrap_or("asc");
            match (field, dir) {
                (Some(f), "asc" | "desc") => Ok(SortKey {
                    field: f.to_owned(),
                    desc: dir == "desc",
                }),
                (None, _) => Err(GhlError::unprocessable("sort.field should not be empty")),
                _ => Err(GhlError::unprocessable(
                    "sort.direction must be one of the following values: asc, desc",
                )),
            }
        })
        .collect()
}

/// The sort values of a document (dates as epoch milliseconds), then its id as tie-breaker.
fn sort_values(doc: &Doc, keys: &[SortKey]) -> Vec<Value> {
    let mut out: Vec<Value> = keys
        .iter()
        .map(|k| match doc.get(&k.field) {
            Some(Value::String(s)) => date_ms(&k.field, s)
                .map(Value::from)
                .unwrap_or_else(|| Value::String(s.to_lowercase())),
            Some(v) => v.clone(),
            None => Value::Null,
        })
        .collect();
    out.push(doc.get("id").cloned().unwrap_or(Value::Null));
    out
}

fn cmp_value(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Orders two sort-value lists; missing values sort last in either direction, like Elasticsearch.
fn cmp_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let desc = keys.get(i).is_some_and(|k| k.desc);
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if desc => cmp_value(y, x),
            _ => cmp_value(x, y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn number(input: &Doc, field: &str, default: usize) -> GhlResult<usize> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| GhlError::unprocessable(format!("{field} must be a positive number"))),
    }
}

async fn search(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> GhlResult<Json<Value>> {
    let input = json_object(&body)?;
    check_location(&p, str_field(&input, "locationId"))?;
    let page_limit = number(&input, "pageLimit", 20)?;
    if !(1..=500).contains(&page_limit) {
        return Err(GhlError::unprocessable(
            "pageLimit must not be greater than 500",
        ));
    }
    let page = number(&input, "page", 1)?.max(1);
    let search_after = match input.get("searchAfter") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => return Err(GhlError::unprocessable("searchAfter must be an array")),
    };
    let filters: Vec<Filter> = match input.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_filters(v)?,
    };
    let keys = parse_sort(&input)?;
    let query = str_field(&input, "query").unwrap_or("").to_owned();

    let mut hits: Vec<(Vec<Value>, Doc)> = visible(&st, &p, |d| {
        matches_query(d, &query) && filters.iter().all(|f| f.matches(d))
    })
    .into_iter()
    .map(|d| (sort_values(&d, &keys), d))
    .collect();
    hits.sort_by(|a, b| cmp_keys(&a.0, &b.0, &keys));
    let total = hits.len();
    let window: Vec<(Vec<Value>, Doc)> = match search_after {
        Some(after) => hits
            .into_iter()
            .filter(|(k, _)| cmp_keys(k, &after, &keys) == Ordering::Greater)
            .take(page_limit)
            .collect(),
        None => {
            if page * page_limit > PAGE_WINDOW {
                return Err(GhlError::BadRequest(
                    "Page-based pagination is limited to 10000 records; use searchAfter to go further".into(),
                ));
            }
            hits.into_iter()
                .skip((page - 1) * page_limit)
                .take(page_limit)
                .collect()
        }
    };
    let contacts: Vec<Value> = window
        .into_iter()
        .map(|(k, d)| {
            let mut item = reduced(&d);
            if let Some(obj) = item.as_object_mut() {
                obj.insert("searchAfter".into(), Value::Array(k));
            }
            item
        })
        .collect();
    Ok(Json(json!({"contacts": contacts, "total": total})))
}

/// Deprecated listing: oldest first, cursor `startAfter` (dateAdded in ms) + `startAfterId`.
async fn list_contacts_deprecated(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    RawQuery(q): RawQuery,
) -> GhlResult<Json<Value>> {
    let q = query_map(q.as_deref());
    check_location(&p, q.get("locationId").map(String::as_str))?;
    let limit = query_usize(&q, "limit", 20)?;
    if limit > 100 {
        return Err(GhlError::unprocessable(
            "limit must not be greater than 100",
        ));
    }
    let query = q.get("query").cloned().unwrap_or_default();
    let keys = [SortKey {
        field: "dateAdded".into(),
        desc: false,
    }];
    let mut hits: Vec<(Vec<Value>, Doc)> = visible(&st, &p, |d| matches_query(d, &query))
        .into_iter()
        .map(|d| (sort_values(&d, &keys), d))
        .collect();
    hits.sort_by(|a, b| cmp_keys(&a.0, &b.0, &keys));
    let total = hits.len();
    let after_ms = q.get("startAfter").and_then(|s| s.parse::<i64>().ok());
    let after_id = q.get("startAfterId").cloned();
    if let Some(ms) = after_ms {
        let cursor = vec![
            Value::from(ms),
            after_id.map(Value::String).unwrap_or(Value::Null),
        ];
        hits.retain(|(k, _)| cmp_keys(k, &cursor, &keys) == Ordering::Greater);
    }
    let more = hits.len() > limit;
    hits.truncate(limit);
    let last = hits.last().map(|(k, _)| k.clone());
    let contacts: Vec<Value> = hits.iter().map(|(_, d)| reduced(d)).collect();
    let (start_after, start_after_id) = match &last {
        Some(k) => (
            k.first().cloned().unwrap_or(Value::Null),
            k.get(1).cloned().unwrap_or(Value::Null),
        ),
        None => (Value::Null, Value::Null),
    };
    let next_page_url = match (&start_after, &start_after_id, more) {
        (Value::Number(ms), Value::String(id), true) => Value::String(format!(
            "/contacts/?locationId={}&startAfter={ms}&startAfterId={id}&limit={limit}",
            p.location_id
        )),
        _ => Value::Null,
    };
    Ok(Json(json!({
        "contacts": contacts,
        "count": total,
        "meta": {"total": total, "nextPageUrl": next_page_url, "startAfter": start_after, "startAfterId": start_after_id},
    })))
}

async fn contacts_by_business(
    State(st): State<Arc<SimState>>,
    Extension(p): Extension<Principal>,
    Path(business_id): Path<String>,
    RawQuery(q): RawQuery,
) -> GhlResult<Json<Value>> {
    let q = query_map(q.as_deref());
    check_location(&p, q.get("locationId").map(String::as_str))?;
    let limit = query_usize(&q, "limit", 25)?;
    let skip = query_usize(&q, "skip", 0)?;
    let query = q.get("query").cloned().unwrap_or_default();
    let keys = [SortKey {
        field: "dateAdded".into(),
        desc: false,
    }];
    let mut hits: Vec<(Vec<Value>, Doc)> = visible(&st, &p, |d| {
        str_field(d, "businessId") == Some(business_id.as_str()) && matches_query(d, &query)
    })
    .into_iter()
    .map(|d| (sort_values(&d, &keys), d))
    .collect();
    hits.sort_by(|a, b| cmp_keys(&a.0, &b.0, &keys));
    let count = hits.len();
    let contacts: Vec<Value> = hits
        .iter()
        .skip(skip)
        .take(limit)
        .map(|(_, d)| reduced(d))
        .collect();
    Ok(Json(json!({"contacts": contacts, "count": count})))
}
