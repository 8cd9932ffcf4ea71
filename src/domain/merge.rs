//! Merge rules: which system's value a field shows.
//!
//! The rule today: GHL is the source of truth for every mapped field; a value GHL does not hold
//! (absent or empty) is taken from Baserow. Empty strings count as absent, since Baserow reads an
//! empty text field as `""` or `null`.

/// A value as one system holds it, with empty text treated as absent.
pub fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The merged value of one text field.
pub fn text(ghl: Option<&str>, baserow: Option<&str>) -> Option<String> {
    present(ghl).or(present(baserow)).map(str::to_string)
}

/// A contact's display name: the stored full name, else first and last name joined.
pub fn full_name(name: Option<&str>, first: Option<&str>, last: Option<&str>) -> Option<String> {
    if let Some(name) = present(name) {
        return Some(name.to_string());
    }
    let joined = [present(first), present(last)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghl_wins_when_it_holds_a_value() {
        assert_eq!(
            text(Some("a@x.io"), Some("b@x.io")).as_deref(),
            Some("a@x.io")
        );
    }

    #[test]
    fn baserow_fills_what_ghl_lacks() {
        assert_eq!(text(None, Some("b@x.io")).as_deref(), Some("b@x.io"));
        assert_eq!(text(Some("  "), Some("b@x.io")).as_deref(), Some("b@x.io"));
    }

    #[test]
    fn empty_on_both_sides_is_absent() {
        assert_eq!(text(Some(""), None), None);
    }

    #[test]
    fn a_name_is_built_from_its_parts_when_missing() {
        assert_eq!(
            full_name(None, Some("Ada"), Some("Lovelace")).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            full_name(Some("A. L."), Some("Ada"), None).as_deref(),
            Some("A. L.")
        );
        assert_eq!(full_name(None, None, Some("")), None);
    }
}
