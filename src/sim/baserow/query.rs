//! Query parameters of the rows list: paging, field names, include/exclude, search, ordering,
//! and DRF-style `next`/`previous` links.

use std::cmp::Ordering;

use axum::http::StatusCode;

use super::errors::{ApiError, ApiResult};
use super::fields::{Field, FieldKind};
use super::filters::{self, Group};
use super::state::{Row, Store};
use super::values::{read_value, text_of};

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 200;

pub fn parse_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Baserow's truthy spellings; a bare `?user_field_names` counts as true.
pub fn flag(params: &[(String, String)], key: &str) -> bool {
    param(params, key).is_some_and(|v| {
        matches!(
            v.to_lowercase().as_str(),
            "" | "y" | "t" | "o" | "1" | "yes" | "true" | "on"
        )
    })
}

/// `send_webhook_events` defaults to true; only explicit false spellings turn it off.
pub fn send_webhooks(params: &[(String, String)]) -> bool {
    !param(params, "send_webhook_events").is_some_and(|v| {
        matches!(
            v.to_lowercase().as_str(),
            "false" | "0" | "no" | "n" | "f" | "off"
        )
    })
}

/// Fields kept by `include`/`exclude` (comma-separated names or `field_<id>`).
pub fn visible_fields<'a>(
    fields: &[&'a Field],
    params: &[(String, String)],
    user_names: bool,
) -> Vec<&'a Field> {
    let split = |v: &str| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>()
    };
    let mut out: Vec<&Field> = fields.to_vec();
    if let Some(include) = param(params, "include") {
        let keys = split(include);
        out.retain(|f| keys.contains(&f.key(user_names)));
    }
    if let Some(exclude) = param(params, "exclude") {
        let keys = split(exclude);
        out.retain(|f| !keys.contains(&f.key(user_names)));
    }
    out
}

/// A parsed list request.
pub struct ListQuery<'a> {
    pub user_names: bool,
    pub page: usize,
    pub size: usize,
    pub visible: Vec<&'a Field>,
    filter: Group,
    search: Option<(String, bool)>,
    order_by: Vec<(&'a Field, bool)>,
}

impl<'a> ListQuery<'a> {
    pub fn parse(store: &'a Store, table_id: u64, params: &[(String, String)]) -> ApiResult<Self> {
        let user_names = flag(params, "user_field_names");
        let size = match param(params, "size").and_then(|s| s.trim().parse::<i64>().ok()) {
            Some(n) if n > MAX_PAGE_SIZE as i64 => {
                return Err(ApiError::bad_request(
                    "ERROR_PAGE_SIZE_LIMIT",
                    format!("The page size is limited to {MAX_PAGE_SIZE}."),
                ));
            }
            Some(n) if n > 0 => n as usize,
            _ => DEFAULT_PAGE_SIZE,
        };
        let page = match param(params, "page") {
            None => 1,
            Some(p) => match p.trim().parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ApiError::DetailOnly {
                        status: StatusCode::NOT_FOUND,
                        detail: "Invalid page.".into(),
                    });
                }
            },
        };
        let fields = store.table_fields(table_id);
        let visible = visible_fields(&fields, params, user_names);
        let filter = match param(params, "filters") {
            Some(raw) => filters::parse_json(raw, &visible, user_names)?,
            None => filters::parse_legacy(params, &visible, user_names)?,
        };
        let search = param(params, "search")
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                (
                    s.to_lowercase(),
                    param(params, "search_mode") == Some("compat"),
                )
            });
        let mut order_by = Vec::new();
        for item in param(params, "order_by")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (descending, key) = match item.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, item.strip_prefix('+').unwrap_or(item)),
            };
            let field = fields
                .iter()
                .copied()
                .find(|f| f.key(user_names) == key)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "ERROR_ORDER_BY_FIELD_NOT_FOUND",
                        format!("The field {key} was not found in the table."),
                    )
                })?;
            order_by.push((field, descending));
        }
        Ok(ListQuery {
            user_names,
            page,
            size,
            visible,
            filter,
            search,
            order_by,
        })
    }

    /// The matching rows in response order.
    pub fn select<'r>(
        &self,
        store: &Store,
        table_id: u64,
        rows: impl Iterator<Item = &'r Row>,
    ) -> Vec<&'r Row> {
        let fields = store.table_fields(table_id);
        let mut selected: Vec<&Row> = rows
            .filter(|r| self.filter.matches(store, r))
            .filter(|r| match &self.search {
                None => true,
                Some((term, compat)) => search_matches(store, &fields, r, term, *compat),
            })
            .collect();
        selected.sort_by(|a, b| {
            for (field, descending) in &self.order_by {
                let ord = compare(store, field, a, b);
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            (a.order, a.id).cmp(&(b.order, b.id))
        });
        selected
    }
}

/// Default (full-text) mode matches word prefixes; `search_mode=compat` matches substrings
/// and the row id.
fn search_matches(store: &Store, fields: &[&Field], row: &Row, term: &str, compat: bool) -> bool {
    let texts: Vec<String> = fields
        .iter()
        .map(|f| text_of(store, f, row).to_lowercase())
        .collect();
    if compat {
        return row.id.to_string() == term || texts.iter().any(|t| t.contains(term));
    }
    let words: Vec<&str> = texts
        .iter()
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    term.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .all(|needle| words.iter().any(|w| w.starts_with(needle)))
}

fn compare(store: &Store, field: &Field, a: &Row, b: &Row) -> Ordering {
    match &field.kind {
        FieldKind::Number { .. } | FieldKind::FormulaRowId { .. } => {
            let num = |r: &Row| text_of(store, field, r).parse::<f64>().ok();
            match (num(a), num(b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
        FieldKind::Boolean => {
            let b_of = |r: &Row| read_value(store, field, r).as_bool().unwrap_or(false);
            b_of(a).cmp(&b_of(b))
        }
        _ => text_of(store, field, a)
            .to_lowercase()
            .cmp(&text_of(store, field, b).to_lowercase()),
    }
}

/// Python's `quote_plus`, which DRF uses when it rebuilds page links.
fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// DRF's `replace_query_param`/`remove_query_param`: parameters sorted by key, `page` set or removed.
pub fn page_link(base: &str, params: &[(String, String)], page: Option<usize>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "page")
        .cloned()
        .collect();
    if let Some(page) = page {
        pairs.push(("page".into(), page.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if pairs.is_empty() {
        return base.to_string();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect();
    format!("{base}?{}", query.join("&"))
}
