//! Identity links: look-ups, paging, fill-in and removal.

use std::str::FromStr;

use chrono::Utc;
use sqlx::{PgConnection, PgPool, Postgres, Row, postgres::PgRow};
use uuid::Uuid;

use crate::store::{EntityKind, Link, Member, StoreError};

const LINK_COLUMNS: &str = "id, kind, ghl_id, baserow_row_id, parent_id";

fn link_from_row(row: &PgRow) -> Result<Link, StoreError> {
    Ok(Link {
        id: row.try_get("id")?,
        kind: EntityKind::from_str(row.try_get("kind")?)?,
        ghl_id: row.try_get("ghl_id")?,
        baserow_row_id: row.try_get("baserow_row_id")?,
        parent_id: row.try_get("parent_id")?,
    })
}

/// Links of `kind` whose `column` is one of `values`, in no particular order.
pub(super) async fn where_any<'a, V>(
    pool: &PgPool,
    kind: EntityKind,
    column: &'static str,
    values: &'a [V],
) -> Result<Vec<Link>, StoreError>
where
    &'a [V]: sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres> + Send,
{
    let sql = format!("SELECT {LINK_COLUMNS} FROM links WHERE kind = $1 AND {column} = ANY($2)");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind.as_str())
        .bind(values)
        .fetch_all(pool)
        .await?;
    rows.iter().map(link_from_row).collect()
}

pub(super) async fn list(
    pool: &PgPool,
    kind: EntityKind,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Link>, StoreError> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM links WHERE kind = $1 AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(link_from_row).collect()
}

pub(super) async fn ensure(pool: &PgPool, candidates: &[Link]) -> Result<Vec<Link>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        out.push(ensure_one(&mut tx, candidate).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// The link for one candidate: the existing one (its missing side filled in) or the candidate.
async fn ensure_one(conn: &mut PgConnection, candidate: &Link) -> Result<Link, StoreError> {
    if let Some(existing) = find(conn, candidate).await? {
        return fill_in(conn, existing, candidate).await;
    }
    if insert_if_absent(conn, candidate).await? {
        return Ok(candidate.clone());
    }
    // The insert collided. Usually another replica linked the same upstream record since the
    // look-up (the insert waited for its commit, so this look-up sees it); otherwise the
    // candidate's own id exists, which the embedded store answers by overwriting that link.
    if let Some(existing) = find(conn, candidate).await? {
        return fill_in(conn, existing, candidate).await;
    }
    upsert(conn, candidate).await?;
    Ok(candidate.clone())
}

/// The oldest link of the candidate's kind sharing either of its upstream ids.
async fn find(conn: &mut PgConnection, candidate: &Link) -> Result<Option<Link>, StoreError> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM links WHERE kind = $1
           AND ((ghl_id IS NOT NULL AND ghl_id = $2)
             OR (baserow_row_id IS NOT NULL AND baserow_row_id = $3))
         ORDER BY id LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(candidate.kind.as_str())
        .bind(&candidate.ghl_id)
        .bind(candidate.baserow_row_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(link_from_row).transpose()
}

/// Sets whichever of `existing`'s sides are missing from `candidate`; sides already set are kept,
/// also when a concurrent writer set them since `existing` was read.
async fn fill_in(
    conn: &mut PgConnection,
    existing: Link,
    candidate: &Link,
) -> Result<Link, StoreError> {
    let fills_something = (existing.ghl_id.is_none() && candidate.ghl_id.is_some())
        || (existing.baserow_row_id.is_none() && candidate.baserow_row_id.is_some())
        || (existing.parent_id.is_none() && candidate.parent_id.is_some());
    if !fills_something {
        return Ok(existing);
    }
    let sql = format!(
        "UPDATE links SET ghl_id = COALESCE(ghl_id, $2),
             baserow_row_id = COALESCE(baserow_row_id, $3),
             parent_id = COALESCE(parent_id, $4), updated_at = $5
         WHERE id = $1 RETURNING {LINK_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(existing.id)
        .bind(&candidate.ghl_id)
        .bind(candidate.baserow_row_id)
        .bind(candidate.parent_id)
        .bind(Utc::now())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => link_from_row(&row),
        // Removed concurrently: the candidate becomes the link, as it would have a moment later.
        None => {
            upsert(conn, candidate).await?;
            Ok(candidate.clone())
        }
    }
}

/// Inserts `link` unless it collides with an existing one (by id or by either upstream id);
/// returns whether it was inserted.
async fn insert_if_absent(conn: &mut PgConnection, link: &Link) -> Result<bool, StoreError> {
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO links (id, kind, ghl_id, baserow_row_id, parent_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING",
    )
    .bind(link.id)
    .bind(link.kind.as_str())
    .bind(&link.ghl_id)
    .bind(link.baserow_row_id)
    .bind(link.parent_id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Removes the links a read made for the records `link` names: a read that found one of them
/// before the outcome was saved gave it a gateway id of its own. A link with operations of its
/// own belongs to another entity and stays (the link's upsert then fails on the unique index).
pub(super) async fn take_over(conn: &mut PgConnection, link: &Link) -> Result<(), StoreError> {
    if link.ghl_id.is_none() && link.baserow_row_id.is_none() {
        return Ok(());
    }
    let taken: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM links WHERE kind = $1 AND id <> $2
             AND (($3::text IS NOT NULL AND ghl_id = $3) OR ($4::bigint IS NOT NULL AND baserow_row_id = $4))
             AND NOT EXISTS (SELECT 1 FROM operations WHERE operations.entity_id = links.id)",
    )
    .bind(link.kind.as_str())
    .bind(link.id)
    .bind(&link.ghl_id)
    .bind(link.baserow_row_id)
    .fetch_all(&mut *conn)
    .await?;
    if taken.is_empty() {
        return Ok(());
    }
    tracing::info!(entity = %link.id, stale = ?taken, "taking over records a read had linked");
    remove_in(conn, &taken).await
}

/// Writes `link` under its id, replacing both sides and the parent of a link already there.
pub(super) async fn upsert(conn: &mut PgConnection, link: &Link) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO links (id, kind, ghl_id, baserow_row_id, parent_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (id) DO UPDATE SET ghl_id = excluded.ghl_id,
             baserow_row_id = excluded.baserow_row_id, parent_id = excluded.parent_id,
             updated_at = excluded.updated_at",
    )
    .bind(link.id)
    .bind(link.kind.as_str())
    .bind(&link.ghl_id)
    .bind(link.baserow_row_id)
    .bind(link.parent_id)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn remove(pool: &PgPool, ids: &[Uuid]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    remove_in(&mut tx, ids).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the links `ids`, and their children, inside the caller's transaction.
pub(super) async fn remove_in(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM links WHERE parent_id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM links WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM business_members WHERE business_id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn business_members(
    pool: &PgPool,
    business: Uuid,
) -> Result<Option<Vec<Member>>, StoreError> {
    let members: Option<sqlx::types::Json<Vec<Member>>> =
        sqlx::query_scalar("SELECT members FROM business_members WHERE business_id = $1")
            .bind(business)
            .fetch_optional(pool)
            .await?;
    Ok(members.map(|m| m.0))
}

pub(super) async fn set_business_members(
    pool: &PgPool,
    business: Uuid,
    members: &[Member],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO business_members (business_id, members, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (business_id) DO UPDATE SET members = excluded.members,
             updated_at = excluded.updated_at",
    )
    .bind(business)
    .bind(sqlx::types::Json(members))
    .bind(Utc::now())
    .execute(pool)
    .await?;
    Ok(())
}
