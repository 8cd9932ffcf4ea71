//! `Appointment`: a contact's calendar appointment, read from GHL (Baserow holds none).

use async_graphql::{ID, Object, Result};

use super::{errors, loaders::GhlAppointmentsKey};
use crate::{backends::ghl, domain::merge, state::Gateway, store::Link};

pub struct Appointment(pub ghl::Appointment);

/// A calendar appointment of a contact. Appointments live in GHL only and the API offers no
/// write for them, so the gateway keeps no link for them: `id` is GHL's own id.
#[Object]
impl Appointment {
    /// The appointment's GHL id (not an opaque gateway id: appointments are GHL-only and
    /// read-only, so the gateway does not link them).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The appointment's GHL id (the same value as `id`, named like other types' `ghlId`).
    async fn ghl_id(&self) -> &str {
        &self.0.id
    }

    /// The appointment's title.
    async fn title(&self) -> Option<&str> {
        merge::present(self.0.title.as_deref())
    }

    /// Start as GHL writes it (`YYYY-MM-DD HH:MM:SS` in the calendar's time zone, or ISO 8601).
    async fn start_time(&self) -> Option<&str> {
        merge::present(self.0.start_time.as_deref())
    }

    /// End, in the same form as `startTime`.
    async fn end_time(&self) -> Option<&str> {
        merge::present(self.0.end_time.as_deref())
    }

    /// GHL's `appointmentStatus` (`booked`, `confirmed`, `cancelled`, `showed`, `noshow`, …),
    /// else its older `status`.
    async fn status(&self) -> Option<&str> {
        merge::present(self.0.appointment_status.as_deref())
            .or(merge::present(self.0.status.as_deref()))
    }

    /// The GHL calendar the appointment is booked in.
    async fn calendar_id(&self) -> Option<&str> {
        merge::present(self.0.calendar_id.as_deref())
    }
}

/// A contact's appointments through the shared loader (batched with the other contacts of the
/// query, cached in `ghl_appointments`); a contact GHL does not hold has none.
pub async fn load_appointments(gateway: &Gateway, contact: &Link) -> Result<Vec<Appointment>> {
    let Some(ghl_id) = &contact.ghl_id else {
        return Ok(Vec::new());
    };
    let events = gateway
        .loader
        .load_one(GhlAppointmentsKey(ghl_id.clone()))
        .await
        .map_err(|e| errors::upstream(&e))?
        .unwrap_or_default();
    Ok(events.iter().cloned().map(Appointment).collect())
}
