//! The services every request and background task shares.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;

use crate::{
    auth::TokenAuthority,
    backends::{CallCounter, baserow::BaserowClient, ghl::GhlClient},
    config::Config,
    domain::merge::MergePolicy,
    graphql::{
        loaders::{Caches, Loaders, StoreLoader, UpstreamLoader},
        subscription::EntityChange,
    },
    store::{self, Store},
    sync::SyncStats,
};

/// Shared state: configuration, store, backend clients, loaders and caches.
pub struct Gateway {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub ghl: GhlClient,
    pub baserow: BaserowClient,
    pub calls: CallCounter,
    pub auth: TokenAuthority,
    pub caches: Caches,
    /// Upstream reads: the caches first, then batches of what they miss.
    pub loader: Loaders,
    /// Batches the store look-ups of a nested read (children's links, pending operations).
    pub store_loader: DataLoader<StoreLoader>,
    pub merge: MergePolicy,
    /// Entity changes for subscribers: every journal operation that changed something publishes
    /// one, whether a mutation or the sync started it.
    pub changes: tokio::sync::broadcast::Sender<EntityChange>,
    /// Wakes the sync processor when a webhook lands.
    pub sync_wakeup: tokio::sync::Notify,
    pub sync_stats: SyncStats,
}

impl Gateway {
    /// Opens the store and builds the clients; fails with a message naming what is wrong.
    pub async fn build(config: Config) -> anyhow::Result<Arc<Self>> {
        let store = store::connect(&config.store.url)
            .await
            .map_err(|e| anyhow::anyhow!("store.url: {e}"))?;
        let calls = CallCounter::default();
        let ghl = GhlClient::new(&config.ghl, calls.clone())?;
        let baserow = BaserowClient::new(&config.baserow, calls.clone())?;
        let caches = Caches::new(&config.cache);
        if let Some(replicas) = store.replicas() {
            // Several replicas may share this store: they share GHL's per-location budget and
            // tell each other what to drop from their caches.
            ghl.rate_budget().share(replicas.clone(), ghl.location_id());
            caches
                .connect_replicas(replicas)
                .await
                .map_err(|e| anyhow::anyhow!("store.url: listening for other replicas: {e}"))?;
        }
        let loader = Loaders::new(UpstreamLoader {
            ghl: ghl.clone(),
            baserow: baserow.clone(),
            caches: caches.clone(),
        });
        let store_loader = DataLoader::new(
            StoreLoader {
                store: store.clone(),
            },
            tokio::spawn,
        );
        Ok(Arc::new(Self {
            auth: TokenAuthority::new(&config.auth),
            merge: MergePolicy::new(&config.merge),
            changes: tokio::sync::broadcast::channel(1024).0,
            sync_wakeup: tokio::sync::Notify::new(),
            sync_stats: SyncStats::default(),
            config,
            store,
            ghl,
            baserow,
            calls,
            caches,
            loader,
            store_loader,
        }))
    }
}
