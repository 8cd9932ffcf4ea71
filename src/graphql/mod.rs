//! The GraphQL schema: queries, mutations, their guards and limits.

pub mod appointment;
pub mod audit;
pub mod business;
mod business_mutation;
pub mod cache_bus;
mod child_mutation;
pub mod children;
pub mod contact;
pub mod contact_filter;
mod errors;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod mutation;
mod operation;
pub mod responses;
pub mod subscription;
mod sync_mutation;

use std::sync::Arc;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

use crate::state::Gateway;

#[derive(MergedObject, Default)]
pub struct Query(
    contact::ContactQuery,
    children::ChildQuery,
    business::BusinessQuery,
    operation::OperationQuery,
    audit::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::ContactMutation,
    child_mutation::ChildMutation,
    business_mutation::BusinessMutation,
    operation::OperationMutation,
    sync_mutation::SyncMutation,
);

pub type GatewaySchema = Schema<Query, Mutation, subscription::Subscription>;

/// Deepest query accepted (contacts → edges → node → tasks → field is 5).
pub const MAX_DEPTH: usize = 12;
/// Largest query complexity accepted.
pub const MAX_COMPLEXITY: usize = 2_000;

/// The request limits the gateway applies, from its `[server]` settings.
pub fn limits(gateway: Option<&Gateway>) -> limits::Limits {
    let server = gateway.map(|g| g.config.server.clone()).unwrap_or_default();
    limits::Limits {
        max_aliases: server.max_aliases,
        introspection: server.introspection || gateway.is_none(),
        max_depth: MAX_DEPTH,
        max_complexity: MAX_COMPLEXITY,
    }
}

/// The schema for HTTP requests, whose handler applies [`limits`] itself; `gateway` is absent
/// only when printing the SDL.
pub fn build(gateway: Option<Arc<Gateway>>) -> GatewaySchema {
    builder(gateway).finish()
}

/// The schema for WebSocket subscriptions: [`build`]'s, with [`limits`] as an extension.
pub fn build_for_websocket(gateway: Arc<Gateway>) -> GatewaySchema {
    let limits = limits(Some(&gateway));
    builder(Some(gateway)).extension(limits).finish()
}

/// The schema's types, depth and complexity limits, introspection setting and gateway.
fn builder(
    gateway: Option<Arc<Gateway>>,
) -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY);
    if let Some(gateway) = gateway {
        if !gateway.config.server.introspection {
            builder = builder.disable_introspection();
        }
        builder = builder.data(gateway);
    }
    builder
}

/// The SDL that `schema.graphql` holds and `ghl-baserow-gateway schema` prints.
pub fn sdl() -> String {
    build(None).sdl()
}
