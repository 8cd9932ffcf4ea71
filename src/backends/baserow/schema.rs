//! The tables and fields the gateway maps, as `baserow init` creates them.

use serde_json::{Value, json};

/// The name of the formula field holding `row_id()`, the only way to filter rows by id.
pub const ROW_ID_FIELD: &str = "row_id";
/// The text field holding the linked GHL id.
pub const GHL_ID_FIELD: &str = "ghl_id";
/// The text field holding the gateway id of the entity that created the row: the marker a
/// resumed create searches for before writing again.
pub const GATEWAY_ID_FIELD: &str = "gateway_id";
/// The link from a task or note to its contact.
pub const CONTACT_LINK_FIELD: &str = "contact";

/// One of the four mapped tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Businesses,
    Contacts,
    Tasks,
    Notes,
}

impl Table {
    /// Creation order: a table is created after the tables its links point to.
    pub const ALL: [Table; 4] = [
        Table::Businesses,
        Table::Contacts,
        Table::Tasks,
        Table::Notes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Businesses => "Businesses",
            Table::Contacts => "Contacts",
            Table::Tasks => "Tasks",
            Table::Notes => "Notes",
        }
    }

    /// The primary field (renamed from Baserow's default "Name").
    pub fn primary_field(self) -> &'static str {
        match self {
            Table::Businesses | Table::Contacts => "name",
            Table::Tasks | Table::Notes => "title",
        }
    }

    /// Field-creation bodies for every non-primary field; `link_row_table_id` is filled in from
    /// `table_id_of` for links.
    pub fn fields(self, table_id_of: impl Fn(Table) -> u64) -> Vec<Value> {
        let text = |name: &str| json!({"name": name, "type": "text"});
        let mut fields = match self {
            Table::Businesses => vec![
                json!({"name": "phone", "type": "phone_number"}),
                json!({"name": "email", "type": "email"}),
                json!({"name": "website", "type": "url"}),
                text("address"),
                text("city"),
                text("state"),
                text("postal_code"),
                text("country"),
                json!({"name": "description", "type": "long_text"}),
            ],
            Table::Contacts => vec![
                text("first_name"),
                text("last_name"),
                json!({"name": "email", "type": "email"}),
                json!({"name": "phone", "type": "phone_number"}),
                text("company_name"),
                text("tags"),
                json!({"name": "business", "type": "link_row",
                       "link_row_table_id": table_id_of(Table::Businesses),
                       "has_related_field": true}),
            ],
            Table::Tasks => vec![
                json!({"name": "body", "type": "long_text"}),
                json!({"name": "due_date", "type": "date", "date_include_time": true,
                       "date_format": "ISO", "date_time_format": "24"}),
                json!({"name": "completed", "type": "boolean"}),
                text("assigned_to"),
                json!({"name": CONTACT_LINK_FIELD, "type": "link_row",
                       "link_row_table_id": table_id_of(Table::Contacts),
                       "has_related_field": true}),
            ],
            Table::Notes => vec![
                json!({"name": "body", "type": "long_text"}),
                json!({"name": CONTACT_LINK_FIELD, "type": "link_row",
                       "link_row_table_id": table_id_of(Table::Contacts),
                       "has_related_field": true}),
                json!({"name": "created_on", "type": "created_on", "date_include_time": true}),
            ],
        };
        fields.extend([
            text(GHL_ID_FIELD),
            text(GATEWAY_ID_FIELD),
            json!({"name": ROW_ID_FIELD, "type": "formula", "formula": "row_id()"}),
            json!({"name": "last_modified", "type": "last_modified", "date_include_time": true}),
        ]);
        fields
    }
}
