//! Business mutations: validated first (bad input touches neither system), then journaled and
//! written to both systems.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use uuid::Uuid;

use super::{
    business::{Business, business_link, load_business},
    child_mutation::{clean, required},
    errors,
    mutation::{DryRun, Submission, existing, is_email, is_phone, submit_action},
    operation::Operation,
};
use crate::{
    auth::{Scope, ScopeGuard},
    journal::{Action, BusinessFields},
    state::Gateway,
    store::{EntityKind, OperationStatus},
};

/// A business to create in both systems.
#[derive(InputObject)]
pub struct CreateBusinessInput {
    pub name: String,
    /// Phone number, ideally E.164 (`+14155550123`).
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The business's web site (`https://example.com` or `example.com`).
    pub website: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
}

/// Business fields to change; a field left out is unchanged, an empty string clears it (the
/// name cannot be cleared).
#[derive(InputObject)]
pub struct UpdateBusinessInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
}

/// The result of a business mutation.
#[derive(SimpleObject)]
pub struct BusinessPayload {
    /// The business as it is now; null when it no longer exists (deleted, or never made).
    pub business: Option<Business>,
    /// What happened in each system; null in dry-run mode.
    pub operation: Option<Operation>,
    /// True when an idempotency key matched an earlier request: nothing was written again.
    pub replayed: bool,
    /// In dry-run mode, the requests each system would have been sent.
    pub dry_run: Option<DryRun>,
}

#[derive(Default)]
pub struct BusinessMutation;

#[Object]
impl BusinessMutation {
    /// Creates a business in GHL and in Baserow and links the two records.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesWrite)")]
    async fn create_business(
        &self,
        ctx: &Context<'_>,
        input: CreateBusinessInput,
        idempotency_key: Option<String>,
    ) -> Result<BusinessPayload> {
        let business = BusinessFields {
            name: Some(required("name", Some(input.name))?),
            phone: clean(input.phone),
            email: clean(input.email),
            website: clean(input.website),
            address: clean(input.address),
            city: clean(input.city),
            state: clean(input.state),
            postal_code: clean(input.postal_code),
            country: clean(input.country),
            description: clean(input.description),
        };
        check_formats(&business)?;
        let action = Action::CreateBusiness { business };
        run(ctx, Uuid::now_v7(), action, idempotency_key).await
    }

    /// Changes a business's fields in both systems.
    #[graphql(guard = "ScopeGuard(Scope::BusinessesWrite)")]
    async fn update_business(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateBusinessInput,
        idempotency_key: Option<String>,
    ) -> Result<BusinessPayload> {
        let trim = |v: Option<String>| v.map(|v| v.trim().to_string());
        let patch = BusinessFields {
            name: input.name.map(|n| required("name", Some(n))).transpose()?,
            phone: trim(input.phone),
            email: trim(input.email),
            website: trim(input.website),
            address: trim(input.address),
            city: trim(input.city),
            state: trim(input.state),
            postal_code: trim(input.postal_code),
            country: trim(input.country),
            description: trim(input.description),
        };
        check_formats(&patch)?;
        if patch == BusinessFields::default() {
            return Err(errors::bad_input(
                "input",
                "give at least one field to change",
            ));
        }
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Business, &id).await?.id;
        run(
            ctx,
            entity,
            Action::UpdateBusiness { patch },
            idempotency_key,
        )
        .await
    }

    /// Deletes a business in both systems (GHL unlinks its contacts itself; Baserow empties
    /// the contacts' `business` links).
    #[graphql(guard = "ScopeGuard(Scope::BusinessesWrite)")]
    async fn delete_business(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> Result<BusinessPayload> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let entity = existing(gateway, EntityKind::Business, &id).await?.id;
        run(ctx, entity, Action::DeleteBusiness, idempotency_key).await
    }
}

/// Journals and executes the action, and reads the business back from both systems.
async fn run(
    ctx: &Context<'_>,
    entity: Uuid,
    action: Action,
    key: Option<String>,
) -> Result<BusinessPayload> {
    let submitted = match submit_action(ctx, entity, action, key).await? {
        Submission::Done(submitted) => submitted,
        Submission::DryRun(plan) => {
            return Ok(BusinessPayload {
                business: None,
                operation: None,
                replayed: false,
                dry_run: Some(plan),
            });
        }
    };
    let gateway = ctx.data::<Arc<Gateway>>()?;
    let business = match submitted.op.entity_id {
        Some(id) if submitted.op.status != OperationStatus::Compensated => {
            match business_link(gateway, id).await? {
                Some(link) => Some(load_business(gateway, link).await?),
                None => None,
            }
        }
        _ => None,
    };
    Ok(BusinessPayload {
        business,
        operation: Some(Operation(submitted.op)),
        replayed: submitted.replayed,
        dry_run: None,
    })
}

/// Email, phone and web site as both systems accept them (Baserow validates all three).
fn check_formats(fields: &BusinessFields) -> Result<()> {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    if let Some(email) = given(&fields.email)
        && !is_email(&email)
    {
        return Err(errors::bad_input(
            "email",
            format!("{email:?} is not an email address"),
        ));
    }
    if let Some(phone) = given(&fields.phone)
        && !is_phone(&phone)
    {
        return Err(errors::bad_input(
            "phone",
            format!("{phone:?} is not a phone number (use digits, optionally +country code)"),
        ));
    }
    if let Some(website) = given(&fields.website)
        && !is_website(&website)
    {
        return Err(errors::bad_input(
            "website",
            format!("{website:?} is not a web address"),
        ));
    }
    Ok(())
}

/// An http(s) URL, or a bare host name with a dot (`example.com/about`), without spaces.
fn is_website(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let full = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    url::Url::parse(&full).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| h.contains('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::is_website;

    #[test]
    fn websites() {
        assert!(is_website("https://example.com"));
        assert!(is_website("example.com/about"));
        assert!(!is_website("not a site"));
        assert!(!is_website("localhost"));
        assert!(!is_website("ftp://example.com"));
    }
}
