//! Contact mutations: validated first (bad input touches neither system), then journaled and
//! written to both systems.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use uuid::Uuid;

use super::{
    contact::{Contact, load_contacts},
    errors, ids,
    operation::Operation,
};
use crate::{
    auth::{Principal, Scope, ScopeGuard},
    config::{MappingConfig, WriteMode},
    journal::{self, Action, ContactFields, ContactPatch, CustomFieldValue, SubmitError},
    state::Gateway,
    store::{EntityKind, OperationStatus},
};

/// The `Idempotency-Key` HTTP header of the request, if any.
#[derive(Clone)]
pub struct IdempotencyHeader(pub String);

/// A contact to create in both systems.
#[derive(InputObject)]
pub struct CreateContactInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Full name; built from first and last name when left out.
    pub name: Option<String>,
    /// An email or a phone is required: both systems find duplicates by them.
    pub email: Option<String>,
    /// Phone number, ideally E.164 (`+14155550123`).
    pub phone: Option<String>,
    pub company_name: Option<String>,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Mapped custom fields (`[mapping]`) to set, by name.
    #[graphql(default)]
    pub custom_fields: Vec<CustomFieldInput>,
}

/// A mapped custom field's new value: written to GHL by its custom field id and to Baserow
/// under its column.
#[derive(InputObject)]
pub struct CustomFieldInput {
    /// The field's name in `[mapping]`.
    pub name: String,
    /// The new value; null or an empty string clears the field.
    pub value: Option<String>,
}

/// Fields to change; a field left out is unchanged, an empty string clears it.
#[derive(InputObject)]
pub struct UpdateContactInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// Mapped custom fields to change, by name; the others are left as they are.
    #[graphql(default)]
    pub custom_fields: Vec<CustomFieldInput>,
}

/// One request a dry run would have sent.
#[derive(SimpleObject)]
pub struct PlannedRequest {
    pub method: String,
    /// Path and query relative to the system's base URL.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<async_graphql::Json<serde_json::Value>>,
}

/// `writes = "dry-run"`: what each system would have been sent (nothing was).
#[derive(SimpleObject)]
pub struct DryRun {
    pub ghl: Vec<PlannedRequest>,
    pub baserow: Vec<PlannedRequest>,
}

impl From<journal::plan::Plan> for DryRun {
    fn from(plan: journal::plan::Plan) -> Self {
        let convert = |requests: Vec<journal::plan::PlannedRequest>| {
            requests
                .into_iter()
                .map(|r| PlannedRequest {
                    method: r.method.to_string(),
                    path: r.path,
                    body: r.body.map(async_graphql::Json),
                })
                .collect()
        };
        DryRun {
            ghl: convert(plan.ghl),
            baserow: convert(plan.baserow),
        }
    }
}

/// The result of a contact mutation.
#[derive(SimpleObject)]
pub struct ContactPayload {
    /// The contact as it is now; null when it no longer exists (deleted, or never made).
    pub contact: Option<Contact>,
    /// What happened in each system; null in dry-run mode.
    pub operation: Option<Operation>,
    /// True when an idempotency key matched an earlier request: nothing was written again.
    pub replayed: bool,
    /// In dry-run mode, the requests each system would have been sent.
    pub dry_run: Option<DryRun>,
}

#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates a contact in GHL and in Baserow and links the two records.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: CreateContactInput,
        idempotency_key: Option<String>,
    ) -> Result<ContactPayload> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let action = Action::CreateContact {
            contact: validate_new(&gateway.config.mapping, input)?,
        };
        run(ctx, Uuid::now_v7(), action, idempotency_key).await
    }

    /// Changes a contact's fields in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContactInput,
        idempotency_key: Option<String>,
    ) -> Result<ContactPayload> {
        let entity = existing_contact(ctx, &id).await?;
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let mut patch = validate_patch(&gateway.config.mapping, input)?;
        if patch.name.is_none() && (patch.first_name.is_some() || patch.last_name.is_some()) {
            // The full name follows a changed first or last name in both systems (GHL derives
            // it; Baserow's `name` is a field of its own).
            patch.name = derived_name(ctx, entity, &patch).await?;
        }
        let action = Action::UpdateContact { patch };
        run(ctx, entity, action, idempotency_key).await
    }

    /// Deletes a contact in both systems.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> Result<ContactPayload> {
        let entity = existing_contact(ctx, &id).await?;
        run(ctx, entity, Action::DeleteContact, idempotency_key).await
    }

    /// Adds tags (GHL tags; Baserow's `tags` field).
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn add_contact_tags(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tags: Vec<String>,
        idempotency_key: Option<String>,
    ) -> Result<ContactPayload> {
        let entity = existing_contact(ctx, &id).await?;
        let action = Action::AddContactTags {
            tags: validate_tags(tags)?,
        };
        run(ctx, entity, action, idempotency_key).await
    }

    /// Removes tags.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn remove_contact_tags(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tags: Vec<String>,
        idempotency_key: Option<String>,
    ) -> Result<ContactPayload> {
        let entity = existing_contact(ctx, &id).await?;
        let action = Action::RemoveContactTags {
            tags: validate_tags(tags)?,
        };
        run(ctx, entity, action, idempotency_key).await
    }

    /// Links the contact to a business (GHL's bulk business link; Baserow's `business` link),
    /// or unlinks it when `businessId` is null.
    #[graphql(guard = "ScopeGuard(Scope::ContactsWrite)")]
    async fn set_contact_business(
        &self,
        ctx: &Context<'_>,
        id: ID,
        business_id: Option<ID>,
        idempotency_key: Option<String>,
    ) -> Result<ContactPayload> {
        let entity = existing_contact(ctx, &id).await?;
        let business = match business_id {
            Some(b) => {
                let business = ids::decode(EntityKind::Business, &b)?;
                let gateway = ctx.data::<Arc<Gateway>>()?;
                let found = gateway
                    .store
                    .links_by_ids(EntityKind::Business, &[business])
                    .await
                    .map_err(|e| errors::store(&e))?;
                if found.is_empty() {
                    return Err(errors::bad_input("businessId", "no such business"));
                }
                Some(business)
            }
            None => None,
        };
        run(
            ctx,
            entity,
            Action::SetContactBusiness { business },
            idempotency_key,
        )
        .await
    }
}

/// The full name after a first/last-name change, from the parts the patch does not change.
async fn derived_name(
    ctx: &Context<'_>,
    entity: Uuid,
    patch: &ContactPatch,
) -> Result<Option<String>> {
    use crate::domain::merge::{ContactField, full_name};
    let gateway = ctx.data::<Arc<Gateway>>()?;
    let links = gateway
        .store
        .links_by_ids(EntityKind::Contact, &[entity])
        .await
        .map_err(|e| errors::store(&e))?;
    let current = load_contacts(gateway, links).await?.into_iter().next();
    let part = |new: &Option<String>, field: ContactField| {
        new.clone().or_else(|| {
            current
                .as_ref()
                .and_then(|c| gateway.merge.contact_value(c, field))
        })
    };
    let first = part(&patch.first_name, ContactField::FirstName);
    let last = part(&patch.last_name, ContactField::LastName);
    Ok(full_name(None, first.as_deref(), last.as_deref()))
}

/// The gateway id of a contact that exists, or a `NOT_FOUND` error.
async fn existing_contact(ctx: &Context<'_>, id: &ID) -> Result<Uuid> {
    let gateway = ctx.data::<Arc<Gateway>>()?;
    let entity = ids::decode(EntityKind::Contact, id)?;
    let found = gateway
        .store
        .links_by_ids(EntityKind::Contact, &[entity])
        .await
        .map_err(|e| errors::store(&e))?;
    if found.is_empty() {
        return Err(errors::coded(
            "NOT_FOUND",
            format!("no contact with id {}", id.as_str()),
        ));
    }
    Ok(entity)
}

/// Obeys the write switch, journals and executes the action, and reads the contact back.
async fn run(
    ctx: &Context<'_>,
    entity: Uuid,
    action: Action,
    idempotency_key: Option<String>,
) -> Result<ContactPayload> {
    let submitted = match submit_action(ctx, entity, action, idempotency_key).await? {
        Submission::Done(submitted) => submitted,
        Submission::DryRun(plan) => {
            return Ok(ContactPayload {
                contact: None,
                operation: None,
                replayed: false,
                dry_run: Some(plan),
            });
        }
    };
    let gateway = ctx.data::<Arc<Gateway>>()?;
    let contact = match submitted.op.entity_id {
        Some(id) if submitted.op.status != OperationStatus::Compensated => {
            let links = gateway
                .store
                .links_by_ids(EntityKind::Contact, &[id])
                .await
                .map_err(|e| errors::store(&e))?;
            load_contacts(gateway, links)
                .await?
                .into_iter()
                .next()
                .map(Contact::from)
        }
        _ => None,
    };
    Ok(ContactPayload {
        contact,
        operation: Some(Operation(submitted.op)),
        replayed: submitted.replayed,
        dry_run: None,
    })
}

fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn check_email(email: &Option<String>) -> Result<()> {
    match email {
        Some(e) if !e.is_empty() && !is_email(e) => Err(errors::bad_input(
            "email",
            format!("{e:?} is not an email address"),
        )),
        _ => Ok(()),
    }
}

fn check_phone(phone: &Option<String>) -> Result<()> {
    match phone {
        Some(p) if !p.is_empty() && !is_phone(p) => Err(errors::bad_input(
            "phone",
            format!("{p:?} is not a phone number (use digits, optionally +country code)"),
        )),
        _ => Ok(()),
    }
}

/// Resolves each custom field's name through `[mapping]`; a name given twice keeps its last value.
fn validate_custom_fields(
    mapping: &MappingConfig,
    input: Vec<CustomFieldInput>,
) -> Result<Vec<CustomFieldValue>> {
    let mut out: Vec<CustomFieldValue> = Vec::new();
    for field in input {
        let name = field.name.trim();
        let Some(m) = mapping.custom_field(name) else {
            let known: Vec<&str> = mapping
                .contact_custom_fields
                .iter()
                .map(|m| m.name.as_str())
                .collect();
            let hint = if known.is_empty() {
                "no custom fields are mapped ([mapping] in the configuration)".to_string()
            } else {
                format!("not a mapped custom field (mapped: {})", known.join(", "))
            };
            return Err(errors::bad_input(&format!("customFields.{name}"), hint));
        };
        out.retain(|f| f.name != m.name);
        out.push(CustomFieldValue::new(m, clean(field.value)));
    }
    Ok(out)
}

/// Checks a new contact the way both systems would, before either is called.
fn validate_new(mapping: &MappingConfig, input: CreateContactInput) -> Result<ContactFields> {
    let mut fields = ContactFields {
        first_name: clean(input.first_name),
        last_name: clean(input.last_name),
        name: clean(input.name),
        email: clean(input.email),
        phone: clean(input.phone),
        company_name: clean(input.company_name),
        tags: validate_tags(input.tags)?,
        custom_fields: validate_custom_fields(mapping, input.custom_fields)?,
    };
    // A new contact has nothing to clear.
    fields.custom_fields.retain(|f| f.value.is_some());
    check_email(&fields.email)?;
    check_phone(&fields.phone)?;
    if fields.email.is_none() && fields.phone.is_none() {
        return Err(errors::bad_input(
            "input",
            "give an email or a phone: both systems identify contacts by them",
        ));
    }
    Ok(fields)
}

fn validate_patch(mapping: &MappingConfig, input: UpdateContactInput) -> Result<ContactPatch> {
    let trim = |v: Option<String>| v.map(|v| v.trim().to_string());
    let patch = ContactPatch {
        first_name: trim(input.first_name),
        last_name: trim(input.last_name),
        name: trim(input.name),
        email: trim(input.email),
        phone: trim(input.phone),
        company_name: trim(input.company_name),
        custom_fields: validate_custom_fields(mapping, input.custom_fields)?,
    };
    check_email(&patch.email)?;
    check_phone(&patch.phone)?;
    if patch == ContactPatch::default() {
        return Err(errors::bad_input(
            "input",
            "give at least one field to change",
        ));
    }
    Ok(patch)
}

fn validate_tags(tags: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_string();
        if tag.is_empty() {
            continue;
        }
        if tag.contains(',') {
            return Err(errors::bad_input(
                "tags",
                format!("{tag:?}: a tag cannot contain a comma"),
            ));
        }
        if !out.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// Digits with optional `+`, spaces, dashes, dots and parentheses; 7 to 15 digits (E.164).
pub fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let allowed = s
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0));
    allowed && (7..=15).contains(&digits)
}

/// What became of a validated mutation under the write switch.
pub enum Submission {
    /// Journaled and executed (or replayed through its idempotency key).
    Done(journal::Submitted),
    /// `writes = "dry-run"`: the requests each system would have been sent.
    DryRun(DryRun),
}

/// The write switch every mutation obeys: `off` refuses, `dry-run` describes the requests each
/// system would be sent (sending none), `on` journals and executes. Each mutation then reads
/// its own entity back.
pub async fn submit_action(
    ctx: &Context<'_>,
    entity: Uuid,
    action: Action,
    idempotency_key: Option<String>,
) -> Result<Submission> {
    let gateway = ctx.data::<Arc<Gateway>>()?;
    match gateway.config.writes {
        WriteMode::On => {}
        WriteMode::Off => {
            return Err(errors::coded(
                "WRITES_DISABLED",
                "writes are switched off in this gateway's configuration (writes = \"off\")",
            ));
        }
        WriteMode::DryRun => {
            let kind = action.entity_kind();
            let found = gateway.store.links_by_ids(kind, &[entity]).await;
            let link = found.map_err(|e| errors::store(&e))?.into_iter().next();
            let link = link.unwrap_or_else(|| {
                let mut link = crate::store::Link::new(kind);
                link.id = entity;
                link.parent_id = action.parent();
                link
            });
            let plan = journal::plan::plan(gateway, &action, &link)
                .await
                .map_err(|e| errors::coded("DRY_RUN_UNAVAILABLE", e))?;
            return Ok(Submission::DryRun(plan.into()));
        }
    }
    let subject = ctx
        .data_opt::<Principal>()
        .map(|p| p.subject.clone())
        .unwrap_or_default();
    let key = idempotency_key
        .or_else(|| ctx.data_opt::<IdempotencyHeader>().map(|h| h.0.clone()))
        .filter(|k| !k.trim().is_empty());
    if key.as_ref().is_some_and(|k| k.len() > 255) {
        return Err(errors::bad_input(
            "idempotencyKey",
            "at most 255 characters",
        ));
    }
    let submitted = journal::submit(gateway, entity, action, key.map(|k| (subject, k)))
        .await
        .map_err(|e| match e {
            SubmitError::IdempotencyConflict => errors::coded(
                "IDEMPOTENCY_KEY_REUSED",
                "this idempotency key was used before with a different mutation or input",
            ),
            SubmitError::Store(e) => errors::store(&e),
        })?;
    Ok(Submission::Done(submitted))
}

/// The link of an entity that exists, or a `NOT_FOUND` error.
pub async fn existing(gateway: &Gateway, kind: EntityKind, id: &ID) -> Result<crate::store::Link> {
    let entity = ids::decode(kind, id)?;
    let found = gateway.store.links_by_ids(kind, &[entity]).await;
    found
        .map_err(|e| errors::store(&e))?
        .into_iter()
        .next()
        .ok_or_else(|| errors::coded("NOT_FOUND", format!("no {kind} with id {}", id.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("ada@example.com"));
        assert!(!is_email("ada@example"));
        assert!(!is_email("ada example@x.io"));
        assert!(!is_email("@x.io"));
        assert!(!is_email("a@b@x.io"));
    }

    #[test]
    fn phones() {
        assert!(is_phone("+1 (415) 555-0123"));
        assert!(is_phone("0612345678"));
        assert!(!is_phone("12345"));
        assert!(!is_phone("call me"));
        assert!(!is_phone("1+4155550123"));
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags =
            validate_tags(vec![" vip ".into(), "VIP".into(), "".into(), "lead".into()]).unwrap();
        assert_eq!(tags, vec!["vip".to_string(), "lead".to_string()]);
        assert!(validate_tags(vec!["a,b".into()]).is_err());
    }
}
