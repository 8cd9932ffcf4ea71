//! Contact operations: get, create, update, delete, upsert, tags, appointments, bulk links.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::{Call, seg};
use super::models::{Appointment, Contact, ContactUpdate, NewContact, Upserted};
use super::{GhlClient, GhlError};

#[derive(Deserialize)]
struct ContactEnvelope {
    contact: Contact,
}

/// `PUT /contacts/{id}` answers `{succeded, contact}` (sic); both keys are required here so a
/// corrected spelling on GHL's side shows up in the contract tests, not as silent data loss.
#[derive(Deserialize)]
struct UpdatedEnvelope {
    succeded: bool,
    contact: Contact,
}

#[derive(Deserialize)]
pub(super) struct Succeded {
    pub succeded: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpsertEnvelope {
    new: bool,
    contact: Contact,
    #[serde(default)]
    trace_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpsertBody<'a> {
    #[serde(flatten)]
    contact: &'a NewContact,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    create_new_if_duplicate_allowed: bool,
}

#[derive(Serialize, Deserialize)]
struct Tags {
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct EventsEnvelope {
    events: Vec<Appointment>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkBusinessBody<'a> {
    location_id: &'a str,
    ids: &'a [String],
    /// `null` unlinks the contacts.
    business_id: Option<&'a str>,
}

/// `POST /contacts/bulk/business`'s answer: the ids GHL changed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BulkBusinessResult {
    pub success: bool,
    pub ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkTagsBody<'a> {
    contacts: &'a [String],
    tags: &'a [String],
    location_id: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    remove_all_tags: bool,
}

/// `POST /contacts/bulk/tags/update/{type}`'s answer (`succeded` sic).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTagsResult {
    pub succeded: bool,
    pub error_count: u64,
    #[serde(default)]
    pub responses: Vec<serde_json::Value>,
}

pub(super) fn not_found_as_none<T>(r: Result<T, GhlError>) -> Result<Option<T>, GhlError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(GhlError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn confirm(operation: &str, succeded: bool) -> Result<(), GhlError> {
    if succeded {
        Ok(())
    } else {
        Err(GhlError::Protocol(format!(
            "{operation}: GHL reported no success"
        )))
    }
}

impl GhlClient {
    /// `GET /contacts/{id}`; `None` when GHL has no such contact.
    pub async fn get_contact(&self, id: &str) -> Result<Option<Contact>, GhlError> {
        let call = Call::new("getContact", Method::GET, format!("contacts/{}", seg(id)));
        let found = not_found_as_none(self.send::<ContactEnvelope>(call).await)?;
        Ok(found.map(|e| e.contact))
    }

    /// `POST /contacts/`. Never repeated blindly: a timeout leaves the outcome unknown, and the
    /// caller decides how to find out. A duplicate answers [`GhlError::Duplicate`].
    pub async fn create_contact(&self, contact: &NewContact) -> Result<Contact, GhlError> {
        let mut body = contact.clone();
        body.location_id = self.location_id().to_owned();
        let call = Call::new("createContact", Method::POST, "contacts/".into()).body(&body)?;
        Ok(self.send::<ContactEnvelope>(call).await?.contact)
    }

    /// `PUT /contacts/{id}`. Setting `tags` replaces all of the contact's tags.
    pub async fn update_contact(
        &self,
        id: &str,
        update: &ContactUpdate,
    ) -> Result<Contact, GhlError> {
        let path = format!("contacts/{}", seg(id));
        let call = Call::new("updateContact", Method::PUT, path).body(update)?;
        let answer: UpdatedEnvelope = self.send(call).await?;
        confirm("updateContact", answer.succeded)?;
        Ok(answer.contact)
    }

    /// `DELETE /contacts/{id}`. Deleting a contact that is already gone is an error
    /// ([`GhlError::NotFound`]) unless it was our own repeated attempt that found it gone.
    pub async fn delete_contact(&self, id: &str) -> Result<(), GhlError> {
        let call = Call::new(
            "deleteContact",
            Method::DELETE,
            format!("contacts/{}", seg(id)),
        );
        match self.send_removal::<Succeded>(call).await? {
            Some(answer) => confirm("deleteContact", answer.succeded),
            None => Ok(()),
        }
    }

    /// `POST /contacts/upsert`: updates the contact matching the location's duplicate rule
    /// (email, then phone) or creates one. Not repeated blindly, like a create.
    pub async fn upsert_contact(&self, contact: &NewContact) -> Result<Upserted, GhlError> {
        self.upsert(contact, false).await
    }

    /// Upsert that always creates when the location allows duplicates
    /// (`createNewIfDuplicateAllowed`).
    pub async fn upsert_contact_allowing_duplicates(
        &self,
        contact: &NewContact,
    ) -> Result<Upserted, GhlError> {
        self.upsert(contact, true).await
    }

    async fn upsert(
        &self,
        contact: &NewContact,
        always_create: bool,
    ) -> Result<Upserted, GhlError> {
        let mut contact = contact.clone();
        contact.location_id = self.location_id().to_owned();
        let body = UpsertBody {
            contact: &contact,
            create_new_if_duplicate_allowed: always_create,
        };
        let call =
            Call::new("upsertContact", Method::POST, "contacts/upsert".into()).body(&body)?;
        let answer: UpsertEnvelope = self.send(call).await?;
        Ok(Upserted {
            created: answer.new,
            contact: answer.contact,
            trace_id: answer.trace_id,
        })
    }

    /// `POST /contacts/{id}/tags`: adds tags, returns the contact's tags. Adding a tag twice is a
    /// no-op, so the call is repeated after a lost answer.
    pub async fn add_tags(
        &self,
        contact_id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, GhlError> {
        let path = format!("contacts/{}/tags", seg(contact_id));
        let body = Tags {
            tags: tags.to_vec(),
        };
        let call = Call::new("addTags", Method::POST, path)
            .body(&body)?
            .safe_to_repeat();
        Ok(self.send::<Tags>(call).await?.tags)
    }

    /// `DELETE /contacts/{id}/tags` (with a body): removes tags, returns the contact's tags.
    pub async fn remove_tags(
        &self,
        contact_id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, GhlError> {
        let path = format!("contacts/{}/tags", seg(contact_id));
        let body = Tags {
            tags: tags.to_vec(),
        };
        let call = Call::new("removeTags", Method::DELETE, path).body(&body)?;
        Ok(self.send::<Tags>(call).await?.tags)
    }

    /// `GET /contacts/{id}/appointments` (read only in the API).
    pub async fn list_appointments(&self, contact_id: &str) -> Result<Vec<Appointment>, GhlError> {
        let path = format!("contacts/{}/appointments", seg(contact_id));
        let call = Call::new("listAppointments", Method::GET, path);
        Ok(self.send::<EventsEnvelope>(call).await?.events)
    }

    /// `POST /contacts/bulk/business`: links `contact_ids` to `business_id`, or unlinks them with
    /// `None`. Setting the same link again changes nothing, so it is repeated after a lost answer.
    pub async fn link_contacts_to_business(
        &self,
        contact_ids: &[String],
        business_id: Option<&str>,
    ) -> Result<BulkBusinessResult, GhlError> {
        let body = BulkBusinessBody {
            location_id: self.location_id(),
            ids: contact_ids,
            business_id,
        };
        let call = Call::new(
            "bulkBusiness",
            Method::POST,
            "contacts/bulk/business".into(),
        )
        .body(&body)?
        .safe_to_repeat();
        self.send(call).await
    }

    /// `POST /contacts/bulk/tags/update/{add|remove}`; `remove_all` clears every tag (remove only).
    pub async fn bulk_update_tags(
        &self,
        contact_ids: &[String],
        tags: &[String],
        add: bool,
        remove_all: bool,
    ) -> Result<BulkTagsResult, GhlError> {
        let kind = if add { "add" } else { "remove" };
        let body = BulkTagsBody {
            contacts: contact_ids,
            tags,
            location_id: self.location_id(),
            remove_all_tags: remove_all && !add,
        };
        let path = format!("contacts/bulk/tags/update/{kind}");
        let call = Call::new("bulkTags", Method::POST, path)
            .body(&body)?
            .safe_to_repeat();
        self.send(call).await
    }
}
