//! `WatchRevocations`: replays the log after the caller's cursor, then
//! forwards live revocations, with heartbeats, RESETs and a resume cursor
//! as the proto describes. Each subscriber has its own task and a bounded
//! channel: a slow one lags behind on its own (and gets a RESET), it never
//! holds up the feed or other subscribers.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use auth_proto::{
    Reason,
    v1::{RevocationEvent, revocation_event::Kind as EventKind},
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tonic::Status;

use crate::{
    auth_core::AuthCore,
    error::{AuthError, db},
    persistence::revocations::{self, Kind},
};

use super::{Revocation, tracker::SequenceTracker};

/// A heartbeat comes after this long without an event.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How often a quiet stream checks that the feed is still healthy.
const HEALTH_CHECK_EVERY: Duration = Duration::from_millis(500);
/// Events queued for the caller's connection.
const SEND_BUFFER: usize = 64;
/// Rows replayed per database read.
const REPLAY_BATCH: u64 = 500;
/// How long replayed positions are remembered, to skip their live copies.
const REPLAYED_MEMORY: Duration = Duration::from_secs(10);

/// The events of one subscription, as tonic streams them.
pub type EventStream = tokio_stream::wrappers::ReceiverStream<Result<RevocationEvent, Status>>;

/// Starts a subscription after `after_sequence` (see the proto). Refused
/// with `unavailable` when the log cannot be read or this replica is not
/// following it.
pub async fn watch(core: Arc<AuthCore>, after_sequence: i64) -> Result<EventStream, AuthError> {
    if !core.revocations.healthy() {
        return Err(not_following());
    }
    // Subscribe before reading the log: whatever the poller applies from
    // now on comes live, whatever it applied before is in the log.
    let live = core.revocations.subscribe();
    let (lowest, highest) = revocations::bounds(&core.db.read)
        .await
        .map_err(db("read the revocation log's bounds"))?;
    let resumable = match (lowest, highest) {
        _ if after_sequence <= 0 => false,
        (Some(lowest), Some(highest)) => after_sequence >= lowest - 1 && after_sequence <= highest,
        _ => false,
    };
    let start = if resumable {
        after_sequence
    } else {
        core.revocations.watermark()
    };
    let (tx, rx) = mpsc::channel(SEND_BUFFER);
    tokio::spawn(async move {
        let sub = Subscription {
            tx,
            cursor: SequenceTracker::starting_at(start),
            replayed: HashSet::new(),
        };
        if !resumable && !sub.send(control(EventKind::Reset, start)).await {
            return;
        }
        sub.run(&core, live, start).await;
    });
    Ok(EventStream::new(rx))
}

fn not_following() -> AuthError {
    // An expected, passing state (this replica's first poll, a database
    // blip): the poller logs the cause; the subscriber retries.
    AuthError::refused(
        Reason::Unavailable,
        "this replica is not following the revocation log now, retry",
    )
}

struct Subscription {
    tx: mpsc::Sender<Result<RevocationEvent, Status>>,
    /// What this stream has sent: its resume cursor is the watermark.
    cursor: SequenceTracker,
    /// Positions sent by the replay, whose live copy is skipped.
    replayed: HashSet<i64>,
}

impl Subscription {
    /// Sends; `false` when the caller is gone.
    async fn send(&self, event: RevocationEvent) -> bool {
        self.tx.send(Ok(event)).await.is_ok()
    }

    async fn fail(&self, error: AuthError) {
        let _ = self.tx.send(Err(error.into())).await;
    }

    async fn send_revocation(&mut self, r: &Revocation) -> bool {
        let now = Instant::now();
        self.cursor.observe(r.seq, now);
        self.cursor.expire(now);
        let event = event_of(r, self.cursor.watermark());
        self.send(event).await
    }

    async fn run(
        mut self,
        core: &AuthCore,
        mut live: tokio::sync::broadcast::Receiver<Arc<Revocation>>,
        start: i64,
    ) {
        if !self.replay(core, start).await {
            return;
        }
        let forget_replayed = tokio::time::sleep(REPLAYED_MEMORY);
        tokio::pin!(forget_replayed);
        let mut health = tokio::time::interval(HEALTH_CHECK_EVERY);
        let mut next_beat = tokio::time::Instant::now() + HEARTBEAT_EVERY;
        loop {
            tokio::select! {
                () = self.tx.closed() => return,
                received = live.recv() => {
                    let sent = match received {
                        Ok(r) if self.replayed.remove(&r.seq) => continue,
                        Ok(r) => self.send_revocation(&r).await,
                        Err(RecvError::Lagged(_)) => {
                            let position = core.revocations.watermark();
                            self.cursor = SequenceTracker::starting_at(position);
                            self.replayed.clear();
                            self.send(control(EventKind::Reset, position)).await
                        }
                        Err(RecvError::Closed) => return,
                    };
                    if !sent {
                        return;
                    }
                    next_beat = tokio::time::Instant::now() + HEARTBEAT_EVERY;
                }
                () = &mut forget_replayed, if !self.replayed.is_empty() => {
                    self.replayed = HashSet::new();
                }
                _ = health.tick() => {
                    if !core.revocations.healthy() {
                        self.fail(not_following()).await;
                        return;
                    }
                    if tokio::time::Instant::now() >= next_beat {
                        self.cursor.expire(Instant::now());
                        if !self.send(control(EventKind::Heartbeat, self.cursor.watermark())).await {
                            return;
                        }
                        next_beat = tokio::time::Instant::now() + HEARTBEAT_EVERY;
                    }
                }
            }
        }
    }

    /// Sends every row after `start`; `false` when the stream ended.
    async fn replay(&mut self, core: &AuthCore, start: i64) -> bool {
        let mut after = start;
        loop {
            let rows = match revocations::after(&core.db.read, after, &[], REPLAY_BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    self.fail(db("replay the revocation log")(e)).await;
                    return false;
                }
            };
            let full = rows.len() as u64 == REPLAY_BATCH;
            for row in rows {
                after = after.max(row.seq);
                let Some(r) = Revocation::from_row(row) else {
                    continue;
                };
                self.replayed.insert(r.seq);
                if !self.send_revocation(&r).await {
                    return false;
                }
            }
            if !full {
                return true;
            }
        }
    }
}

fn control(kind: EventKind, sequence: i64) -> RevocationEvent {
    RevocationEvent {
        kind: kind.into(),
        sequence,
        ..Default::default()
    }
}

fn event_of(r: &Revocation, cursor: i64) -> RevocationEvent {
    let kind = match r.kind {
        Kind::Session => EventKind::SessionRevoked,
        Kind::User => EventKind::UserRevoked,
        Kind::Key => EventKind::KeyRetired,
    };
    RevocationEvent {
        kind: kind.into(),
        sequence: cursor,
        session_id: r.session_id.clone().unwrap_or_default(),
        user_id: r.user_id.clone().unwrap_or_default(),
        kid: r.kid.clone().unwrap_or_default(),
        revoked_at: r.at_ms.div_euclid(1000),
    }
}
