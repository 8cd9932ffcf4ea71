//! Mutations: validated first (bad input touches neither system), then written to both.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::{contact::Contact, errors, operation::Operation};
use crate::{
    auth::{Scope, ScopeGuard},
    journal::{self, NewContactInput},
    state::Gateway,
};

/// A contact to create in both systems.
#[derive(InputObject)]
pub struct CreateContactInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Full name; built from first and last name when left out.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Phone number, ideally E.164 (`+14155550123`).
    pub phone: Option<String>,
    pub company_name: Option<String>,
    #[graphql(default)]
    pub tags: Vec<String>,
}

/// The result of `createContact`.
#[derive(SimpleObject)]
pub struct CreateContactPayload {
    /// The contact as written; null only when neither system took it.
    pub contact: Option<Contact>,
    /// What happened in each system.
    pub operation: Operation,
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
    ) -> Result<CreateContactPayload> {
        let gateway = ctx.data::<Arc<Gateway>>()?;
        let input = validate(input)?;
        let (record, op) = journal::create_contact(gateway, input)
            .await
            .map_err(|e| errors::store(&e))?;
        let contact = (record.link.ghl_id.is_some() || record.link.baserow_row_id.is_some())
            .then_some(Contact(record));
        Ok(CreateContactPayload {
            contact,
            operation: Operation(op),
        })
    }
}

fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Checks a contact the way both systems would, before either is called.
fn validate(input: CreateContactInput) -> Result<NewContactInput> {
    let email = clean(input.email);
    if let Some(email) = &email
        && !is_email(email)
    {
        return Err(errors::bad_input(
            "email",
            format!("{email:?} is not an email address"),
        ));
    }
    let phone = clean(input.phone);
    if let Some(phone) = &phone
        && !is_phone(phone)
    {
        return Err(errors::bad_input(
            "phone",
            format!("{phone:?} is not a phone number (use digits, optionally +country code)"),
        ));
    }
    let input = NewContactInput {
        first_name: clean(input.first_name),
        last_name: clean(input.last_name),
        name: clean(input.name),
        email,
        phone,
        company_name: clean(input.company_name),
        tags: input
            .tags
            .into_iter()
            .filter_map(|t| clean(Some(t)))
            .collect(),
    };
    if input.first_name.is_none()
        && input.last_name.is_none()
        && input.name.is_none()
        && input.email.is_none()
        && input.phone.is_none()
    {
        return Err(errors::bad_input(
            "input",
            "give at least one of name, firstName, lastName, email or phone",
        ));
    }
    Ok(input)
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
}
