//! Request limits async-graphql does not apply itself, and stable codes for the ones it does:
//! too many aliases (`TOO_MANY_ALIASES`), introspection when it is off
//! (`INTROSPECTION_DISABLED`), too deep (`QUERY_TOO_DEEP`) and too complex
//! (`QUERY_TOO_COMPLEX`).
//!
//! HTTP requests are checked by the handler, before and after executing them ([`Limits::check_request`],
//! [`Limits::recode`]); the schema serving subscriptions over WebSocket, where no handler sees
//! the document, carries the same checks as an extension. An extension runs for every field
//! resolved (async-graphql calls its `resolve` hook around each one), which cost a nested read
//! of 300 objects about a seventh of its CPU: HTTP's schema has none.

use std::sync::Arc;

use async_graphql::{
    ErrorExtensionValues, Request, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// A request error with `extensions.code`.
pub fn coded_error(code: &str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// The checks on a parsed document, before validation.
#[derive(Clone, Copy)]
pub struct Limits {
    pub max_aliases: usize,
    pub introspection: bool,
    pub max_depth: usize,
    pub max_complexity: usize,
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for Limits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.check(&document)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(|e| self.recode(e)).collect())
    }
}

impl Limits {
    /// Checks a request's document (parsing it, once, if nothing has yet). A document that does
    /// not parse passes: executing it reports the syntax error.
    pub fn check_request(&self, request: &mut Request) -> ServerResult<()> {
        match request.parsed_query() {
            Ok(document) => self.check(document),
            Err(_) => Ok(()),
        }
    }

    /// async-graphql's depth and complexity errors with a code and the limit in the message.
    pub fn recode(&self, error: ServerError) -> ServerError {
        match error.message.as_str() {
            "Query is nested too deep." => coded_error(
                "QUERY_TOO_DEEP",
                format!(
                    "the query is nested too deep (more than {} levels)",
                    self.max_depth
                ),
            ),
            "Query is too complex." => coded_error(
                "QUERY_TOO_COMPLEX",
                format!(
                    "the query is too complex (over {}); ask for fewer fields or smaller pages",
                    self.max_complexity
                ),
            ),
            _ => error,
        }
    }

    /// Counts every alias in the document (fragments once each) and looks for `__schema` and
    /// `__type`.
    pub fn check(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let mut found = Found::default();
        for (_, operation) in document.operations.iter() {
            found.walk(&operation.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            found.walk(&fragment.node.selection_set.node);
        }
        if found.aliases > self.max_aliases {
            return Err(coded_error(
                "TOO_MANY_ALIASES",
                format!(
                    "the document has {} aliases; at most {} are accepted (server.max_aliases)",
                    found.aliases, self.max_aliases
                ),
            ));
        }
        if found.introspection && !self.introspection {
            return Err(coded_error(
                "INTROSPECTION_DISABLED",
                "introspection (__schema, __type) is off on this server (server.introspection)",
            ));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Found {
    aliases: usize,
    introspection: bool,
}

impl Found {
    fn walk(&mut self, set: &SelectionSet) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    self.aliases += usize::from(field.alias.is_some());
                    self.introspection |= matches!(field.name.node.as_str(), "__schema" | "__type");
                    self.walk(&field.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    self.walk(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_aliases: usize, introspection: bool) -> Limits {
        Limits {
            max_aliases,
            introspection,
            max_depth: 10,
            max_complexity: 100,
        }
    }

    fn code(result: ServerResult<()>) -> String {
        let error = result.unwrap_err();
        let extensions = serde_json::to_value(error.extensions).unwrap();
        extensions["code"].as_str().unwrap().to_string()
    }

    #[test]
    fn aliases_in_operations_inline_fragments_and_fragments_count() {
        let document = async_graphql::parser::parse_query(
            "query { a: x b: y { ... on T { c: z } } ...F } fragment F on Q { d: w }",
        )
        .unwrap();
        assert!(limits(4, false).check(&document).is_ok());
        assert_eq!(code(limits(3, false).check(&document)), "TOO_MANY_ALIASES");
    }

    #[test]
    fn introspection_is_refused_only_when_off() {
        let document =
            async_graphql::parser::parse_query("{ __type(name: \"Contact\") { name } }").unwrap();
        assert_eq!(
            code(limits(30, false).check(&document)),
            "INTROSPECTION_DISABLED"
        );
        assert!(limits(30, true).check(&document).is_ok());
        let typename = async_graphql::parser::parse_query("{ __typename }").unwrap();
        assert!(limits(30, false).check(&typename).is_ok());
    }
}
