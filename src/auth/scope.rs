//! Scopes a client token can carry, and the GraphQL guard that checks them.

use std::{fmt, str::FromStr};

use async_graphql::{Context, ErrorExtensions, Guard};

use super::Principal;

/// What a client may do; the names match GHL's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    ContactsReadonly,
    ContactsWrite,
    BusinessesReadonly,
    BusinessesWrite,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::ContactsReadonly,
        Scope::ContactsWrite,
        Scope::BusinessesReadonly,
        Scope::BusinessesWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ContactsReadonly => "contacts.readonly",
            Scope::ContactsWrite => "contacts.write",
            Scope::BusinessesReadonly => "businesses.readonly",
            Scope::BusinessesWrite => "businesses.write",
        }
    }

    /// Holding `self` grants `needed`: a write scope includes reading.
    pub fn implies(self, needed: Scope) -> bool {
        self == needed
            || matches!(
                (self, needed),
                (Scope::ContactsWrite, Scope::ContactsReadonly)
                    | (Scope::BusinessesWrite, Scope::BusinessesReadonly)
            )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope {s:?}; known scopes: {}", known.join(", "))
            })
    }
}

/// Refuses a field unless the caller's token holds `0`, with `extensions.code = "FORBIDDEN"`.
pub struct ScopeGuard(pub Scope);

impl Guard for ScopeGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match ctx.data_opt::<Principal>() {
            Some(p) if p.allows(self.0) => Ok(()),
            _ => Err(
                async_graphql::Error::new(format!("this needs the `{}` scope", self.0))
                    .extend_with(|_, e| e.set("code", "FORBIDDEN")),
            ),
        }
    }
}
