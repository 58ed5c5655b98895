//! The fake auth-service's `WatchRevocations`: a log of events a test
//! pushes, replayed after the caller's cursor as the contract says (a
//! cursor of 0, or one it cannot resume, gets a RESET first), then live
//! ones, with a heartbeat every [`HEARTBEAT_EVERY`]. A test can end the
//! stream, fail it, or refuse new subscriptions, and reads the cursor of
//! every subscription.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use auth_proto::v1::{RevocationEvent, revocation_event::Kind};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_stream::{Stream, wrappers::UnboundedReceiverStream};
use tonic::Status;

use crate::fake_auth::now;

/// How often a quiet stream says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);

/// The stream type of the fake's `watch_revocations`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<RevocationEvent, Status>> + Send>>;

type Sender = UnboundedSender<Result<RevocationEvent, Status>>;

#[derive(Default)]
struct State {
    log: Vec<RevocationEvent>,
    /// The `after_sequence` of every subscription, in order.
    subscriptions: Vec<i64>,
    /// The open streams (a stream ends when its sender is dropped).
    open: Vec<Sender>,
    refusing: bool,
}

/// The revocation log and its subscribers; clones share them.
#[derive(Clone, Default)]
pub struct RevocationFeed {
    state: Arc<Mutex<State>>,
}

impl RevocationFeed {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Opens a stream after `after_sequence`, or refuses as `unavailable`.
    pub fn subscribe(&self, after_sequence: i64) -> Result<EventStream, Status> {
        let mut state = self.state();
        state.subscriptions.push(after_sequence);
        if state.refusing {
            return Err(Status::unavailable("the revocation log cannot be read"));
        }
        let latest = state.log.last().map_or(0, |e| e.sequence);
        let (tx, rx) = mpsc::unbounded_channel();
        if after_sequence <= 0 || after_sequence > latest {
            let _ = tx.send(Ok(control(Kind::Reset, latest)));
        } else {
            for event in state.log.iter().filter(|e| e.sequence > after_sequence) {
                let _ = tx.send(Ok(event.clone()));
            }
        }
        let beats = tx.downgrade();
        let log = self.state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT_EVERY).await;
                let Some(tx) = beats.upgrade() else { return };
                let latest = log.lock().unwrap().log.last().map_or(0, |e| e.sequence);
                if tx.send(Ok(control(Kind::Heartbeat, latest))).is_err() {
                    return;
                }
            }
        });
        state.open.push(tx);
        Ok(Box::pin(UnboundedReceiverStream::new(rx)))
    }

    /// Appends an event to the log and sends it to every open stream;
    /// answers its sequence.
    pub fn push(&self, mut event: RevocationEvent) -> i64 {
        let mut state = self.state();
        event.sequence = state.log.last().map_or(0, |e| e.sequence) + 1;
        state.log.push(event.clone());
        state.open.retain(|tx| tx.send(Ok(event.clone())).is_ok());
        event.sequence
    }

    pub fn revoke_session(&self, user_id: &str, session_id: &str) -> i64 {
        self.push(RevocationEvent {
            kind: Kind::SessionRevoked.into(),
            session_id: session_id.into(),
            user_id: user_id.into(),
            revoked_at: now(),
            ..Default::default()
        })
    }

    pub fn revoke_user(&self, user_id: &str, revoked_at: i64) -> i64 {
        self.push(RevocationEvent {
            kind: Kind::UserRevoked.into(),
            user_id: user_id.into(),
            revoked_at,
            ..Default::default()
        })
    }

    pub fn retire_key(&self, kid: &str) -> i64 {
        self.push(RevocationEvent {
            kind: Kind::KeyRetired.into(),
            kid: kid.into(),
            revoked_at: now(),
            ..Default::default()
        })
    }

    /// Sends a RESET at the current position to every open stream (as the
    /// service does to a subscriber that fell behind).
    pub fn reset(&self) {
        let mut state = self.state();
        let latest = state.log.last().map_or(0, |e| e.sequence);
        state
            .open
            .retain(|tx| tx.send(Ok(control(Kind::Reset, latest))).is_ok());
    }

    /// Ends every open stream cleanly.
    pub fn disconnect(&self) {
        self.state().open.clear();
    }

    /// Ends every open stream with an `unavailable` error.
    pub fn fail(&self) {
        for tx in self.state().open.drain(..) {
            let _ = tx.send(Err(Status::unavailable(
                "the revocation log cannot be read",
            )));
        }
    }

    /// Whether new subscriptions are refused.
    pub fn set_refusing(&self, refusing: bool) {
        self.state().refusing = refusing;
    }

    /// The `after_sequence` of every subscription so far.
    pub fn subscriptions(&self) -> Vec<i64> {
        self.state().subscriptions.clone()
    }
}

fn control(kind: Kind, sequence: i64) -> RevocationEvent {
    RevocationEvent {
        kind: kind.into(),
        sequence,
        ..Default::default()
    }
}
