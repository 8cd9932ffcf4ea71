//! Businesses (companies) of the location: models and list/get/create/update/delete.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::{Call, seg};
use super::contacts::{confirm, not_found_as_none};
use super::{GhlClient, GhlError};

/// GHL's largest page of businesses is not documented; 100 keeps answers small.
pub const BUSINESS_PAGE: u32 = 100;

/// A business (`BusinessDto`; `id`, `name` and `locationId` are required by the spec).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Body of `POST /businesses/` (`CreateBusinessDto`) and, without `name` required, of
/// `PUT /businesses/{id}` (`UpdateBusinessDto`). The client fills `locationId` on create.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    location_id: &'a str,
    #[serde(flatten)]
    input: &'a BusinessInput,
}

#[derive(Deserialize)]
struct BusinessesEnvelope {
    businesses: Vec<Business>,
}

#[derive(Deserialize)]
struct BusinessEnvelope {
    business: Business,
}

/// `{success, buiseness}` (sic) of create and update; the misspelt key is required.
#[derive(Deserialize)]
struct SavedEnvelope {
    success: bool,
    buiseness: Business,
}

#[derive(Deserialize)]
struct SuccessEnvelope {
    success: bool,
}

impl GhlClient {
    /// `GET /businesses/?locationId&limit&skip`: one page.
    pub async fn list_businesses(&self, limit: u32, skip: u32) -> Result<Vec<Business>, GhlError> {
        let call = Call::new("listBusinesses", Method::GET, "businesses/".into())
            .query("locationId", self.location_id())
            .query("limit", limit)
            .query("skip", skip);
        Ok(self.send::<BusinessesEnvelope>(call).await?.businesses)
    }

    /// Every business of the location, page by page (`skip` advances by the page size until a
    /// short page).
    pub async fn list_all_businesses(&self) -> Result<Vec<Business>, GhlError> {
        let mut all = Vec::new();
        loop {
            let skip = u32::try_from(all.len()).unwrap_or(u32::MAX);
            let page = self.list_businesses(BUSINESS_PAGE, skip).await?;
            let short = page.len() < BUSINESS_PAGE as usize;
            all.extend(page);
            if short {
                return Ok(all);
            }
        }
    }

    /// `GET /businesses/{id}`; `None` when there is no such business.
    pub async fn get_business(&self, id: &str) -> Result<Option<Business>, GhlError> {
        let call = Call::new(
            "getBusiness",
            Method::GET,
            format!("businesses/{}", seg(id)),
        );
        Ok(not_found_as_none(self.send::<BusinessEnvelope>(call).await)?.map(|e| e.business))
    }

    /// `POST /businesses/` (`name` is required). Never repeated blindly.
    pub async fn create_business(&self, input: &BusinessInput) -> Result<Business, GhlError> {
        let body = CreateBody {
            location_id: self.location_id(),
            input,
        };
        let call = Call::new("createBusiness", Method::POST, "businesses/".into()).body(&body)?;
        let answer: SavedEnvelope = self.send(call).await?;
        confirm("createBusiness", answer.success)?;
        Ok(answer.buiseness)
    }

    /// `PUT /businesses/{id}`.
    pub async fn update_business(
        &self,
        id: &str,
        input: &BusinessInput,
    ) -> Result<Business, GhlError> {
        let path = format!("businesses/{}", seg(id));
        let call = Call::new("updateBusiness", Method::PUT, path).body(input)?;
        let answer: SavedEnvelope = self.send(call).await?;
        confirm("updateBusiness", answer.success)?;
        Ok(answer.buiseness)
    }

    /// `DELETE /businesses/{id}`.
    pub async fn delete_business(&self, id: &str) -> Result<(), GhlError> {
        let call = Call::new(
            "deleteBusiness",
            Method::DELETE,
            format!("businesses/{}", seg(id)),
        );
        match self.send_removal::<SuccessEnvelope>(call).await? {
            Some(answer) => confirm("deleteBusiness", answer.success),
            None => Ok(()),
        }
    }
}
