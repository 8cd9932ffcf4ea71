//! How replicas on one PostgreSQL database reach each other: `LISTEN`/`NOTIFY` for messages,
//! and a table of recent sends for a rate budget they share.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{
    PgPool,
    postgres::{PgListener, PgPoolOptions},
};
use tokio::sync::mpsc;

use super::micros;
use crate::store::{Admission, Replicas, StoreError};

/// Messages waiting for a slow listener before the oldest are dropped (and the loss reported).
const LISTEN_BUFFER: usize = 1024;
/// How long a listener whose connection failed waits before it connects again.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

pub struct PgReplicas {
    pub(super) pool: PgPool,
}

#[async_trait]
impl Replicas for PgReplicas {
    async fn send(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn listen(&self, channel: &str) -> Result<mpsc::Receiver<Option<String>>, StoreError> {
        // A connection of its own: a listener holds it for as long as it runs, and must not take
        // one of the pool's from requests.
        let options = self.pool.connect_options().as_ref().clone();
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&own).await?;
        listener.listen(channel).await?;
        let (tx, rx) = mpsc::channel(LISTEN_BUFFER);
        let channel = channel.to_string();
        tokio::spawn(async move {
            loop {
                let next = match listener.try_recv().await {
                    Ok(Some(message)) => Some(message.payload().to_string()),
                    Ok(None) => {
                        tracing::warn!(%channel, "lost the connection listening for replicas; reconnected");
                        None
                    }
                    Err(error) => {
                        tracing::warn!(%channel, %error, "listening for replicas failed; trying again");
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                        None
                    }
                };
                let sent = match next {
                    Some(payload) => match tx.try_send(Some(payload)) {
                        Err(mpsc::error::TrySendError::Full(_)) => tx.send(None).await,
                        other => other.map_err(|_| mpsc::error::SendError(None)),
                    },
                    None => tx.send(None).await,
                };
                if sent.is_err() {
                    return; // nobody listens any more
                }
            }
        });
        Ok(rx)
    }

    async fn admit(
        &self,
        budget: &str,
        max: u32,
        window: Duration,
        learned: bool,
    ) -> Result<Admission, StoreError> {
        let (granted, wait_us): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT granted, wait_us FROM rate_admit($1, $2, $3, $4)")
                .bind(budget)
                .bind(i32::try_from(max).unwrap_or(i32::MAX))
                .bind(micros(window))
                .bind(learned)
                .fetch_one(&self.pool)
                .await?;
        match (granted, wait_us) {
            (Some(grant), _) => Ok(Admission::Granted(grant)),
            (None, Some(us)) => Ok(Admission::Wait(Duration::from_micros(us.unsigned_abs()))),
            (None, None) => Err(StoreError::Corrupt(
                "rate_admit answered neither a grant nor a wait".into(),
            )),
        }
    }

    async fn answered(&self, grant: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE rate_sends SET answered_at = clock_timestamp() WHERE id = $1")
            .bind(grant)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
