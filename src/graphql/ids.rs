//! Opaque, stable ids: `base64url("<Type>:<gateway uuid>")`. Clients treat them as strings; the
//! type prefix lets `node(id)` route and catches an id of one type passed where another is due.

use async_graphql::{ErrorExtensions, ID};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::store::EntityKind;

fn type_name(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Contact => "Contact",
        EntityKind::Task => "Task",
        EntityKind::Note => "Note",
        EntityKind::Business => "Business",
    }
}

pub fn encode(kind: EntityKind, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", type_name(kind))))
}

/// The gateway uuid inside an id of the expected kind, or a `BAD_USER_INPUT` error.
pub fn decode(kind: EntityKind, id: &ID) -> async_graphql::Result<Uuid> {
    let invalid = || {
        async_graphql::Error::new(format!("{:?} is not a {} id", id.as_str(), type_name(kind)))
            .extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text
        .strip_prefix(type_name(kind))
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(invalid)?;
    Uuid::parse_str(rest).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(
            decode(EntityKind::Task, &encode(EntityKind::Task, id)).unwrap(),
            id
        );
    }

    #[test]
    fn an_id_of_another_type_is_refused() {
        let id = encode(EntityKind::Task, Uuid::now_v7());
        assert!(decode(EntityKind::Contact, &id).is_err());
        assert!(decode(EntityKind::Contact, &ID("not-an-id".into())).is_err());
    }
}
