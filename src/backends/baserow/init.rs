//! `baserow init`: provisions Baserow and writes what it found or made into the config file.
//!
//! The file is edited with `toml_edit`, so comments and layout survive; it is created from
//! `gateway.example.toml` when missing, written only when a value differs (so a second run
//! leaves it byte for byte as it was), atomically, and readable by its owner only since it
//! then holds the database token and the webhook secret.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use toml_edit::{DocumentMut, Item, Table as TomlTable};
use url::Url;

use super::{
    admin::AdminCredentials,
    provision::{ProvisionPlan, Provisioned, provision_with},
    webhooks::WebhookPlan,
};

/// The example configuration a missing config file starts from.
const EXAMPLE: &str = include_str!("../../../gateway.example.toml");
/// Placeholder token of the example file, never worth checking with Baserow.
const PLACEHOLDER_TOKEN: &str = "your-database-token";

/// What `baserow init` was asked to do.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub base_url: Url,
    pub credentials: AdminCredentials,
    pub workspace: String,
    pub database: String,
    pub public_url: Url,
    pub config: PathBuf,
}

/// What `baserow init` did.
#[derive(Debug)]
pub struct InitReport {
    /// Changes made in Baserow and to the config file, one line each; empty for none.
    pub changes: Vec<String>,
    pub provisioned: Provisioned,
}

/// Provisions Baserow (reusing the token and webhook secret the config file holds) and writes
/// the base URL, table ids, token and webhook secret into the config file.
pub async fn init(options: &InitOptions) -> anyhow::Result<InitReport> {
    let original = match std::fs::read_to_string(&options.config) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", options.config.display()));
        }
    };
    let mut doc: DocumentMut = original
        .as_deref()
        .unwrap_or(EXAMPLE)
        .parse()
        .with_context(|| format!("{} is not valid TOML", options.config.display()))?;

    let existing_token = baserow_str(&doc, "token").filter(|t| t != PLACEHOLDER_TOKEN);
    let existing_secret = baserow_str(&doc, "webhook_secret");
    let plan = ProvisionPlan {
        base_url: options.base_url.clone(),
        credentials: options.credentials.clone(),
        workspace: options.workspace.clone(),
        database: options.database.clone(),
        existing_token: existing_token.map(SecretString::from),
        webhooks: Some(WebhookPlan::for_public_url(
            &options.public_url,
            existing_secret.map(SecretString::from),
        )?),
        contact_columns: mapped_columns(&doc),
    };
    let provisioned = provision_with(&plan).await?;
    let mut changes = provisioned.changes.clone();

    apply(&mut doc, &options.base_url, &provisioned);
    let rendered = doc.to_string();
    if original.as_deref() != Some(rendered.as_str()) {
        write_private(&options.config, &rendered)?;
        changes.push(match original {
            None => format!("created {}", options.config.display()),
            Some(_) => format!("updated {}", options.config.display()),
        });
    }
    Ok(InitReport {
        changes,
        provisioned,
    })
}

/// The Baserow columns the config's `[[mapping.contact_custom_fields]]` entries name.
fn mapped_columns(doc: &DocumentMut) -> Vec<String> {
    doc.get("mapping")
        .and_then(|m| m.get("contact_custom_fields"))
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(|entries| entries.iter())
        .filter_map(|entry| entry.get("baserow_field").and_then(Item::as_str))
        .filter(|name| !name.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn baserow_str(doc: &DocumentMut, key: &str) -> Option<String> {
    doc.get("baserow")
        .and_then(|b| b.get(key))
        .and_then(Item::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// Sets the `[baserow]` values that differ, keeping each replaced value's comments.
fn apply(doc: &mut DocumentMut, base_url: &Url, provisioned: &Provisioned) {
    let baserow = section(doc.as_table_mut(), "baserow");
    let same_url = baserow
        .get("base_url")
        .and_then(Item::as_str)
        .and_then(|s| Url::parse(s).ok())
        .is_some_and(|u| &u == base_url);
    if !same_url {
        let url = base_url.as_str().trim_end_matches('/').to_string();
        set(baserow, "base_url", toml_edit::Value::from(url));
    }
    set(
        baserow,
        "token",
        toml_edit::Value::from(provisioned.token.expose_secret()),
    );
    if let Some(secret) = &provisioned.webhook_secret {
        set(
            baserow,
            "webhook_secret",
            toml_edit::Value::from(secret.expose_secret()),
        );
    }
    let t = provisioned.tables;
    let ids = [
        ("contacts", t.contacts),
        ("tasks", t.tasks),
        ("notes", t.notes),
        ("businesses", t.businesses),
    ];
    match baserow
        .get_mut("tables")
        .and_then(Item::as_inline_table_mut)
    {
        Some(inline) => {
            for (name, id) in ids {
                let id = i64::try_from(id).unwrap_or(i64::MAX);
                if inline.get(name).and_then(toml_edit::Value::as_integer) != Some(id) {
                    inline.insert(name, toml_edit::Value::from(id));
                }
            }
        }
        None => {
            let tables = section(baserow, "tables");
            for (name, id) in ids {
                let id = i64::try_from(id).unwrap_or(i64::MAX);
                set(tables, name, toml_edit::Value::from(id));
            }
        }
    }
}

/// The sub-table `key` of `parent`: an inline table becomes a `[section]`, a missing or
/// non-table value a new empty one.
fn section<'a>(parent: &'a mut TomlTable, key: &str) -> &'a mut TomlTable {
    let item = parent.entry(key).or_insert(Item::None);
    if !item.is_table() {
        let owned = std::mem::take(item);
        *item = Item::Table(owned.into_table().unwrap_or_default());
    }
    let Item::Table(table) = item else {
        unreachable!("the item was just made a table")
    };
    table
}

/// Sets `key` to `value` unless it already holds an equal value; keeps the old decoration.
fn set(table: &mut TomlTable, key: &str, mut value: toml_edit::Value) {
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        if old.to_string().trim() == value.to_string().trim() {
            return;
        }
        *value.decor_mut() = old.decor().clone();
    }
    table.insert(key, Item::Value(value));
}

/// Writes `text` to `path` through a temporary file and a rename (never a half-written
/// config), with mode 0600 on Unix.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gateway.toml".into());
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
