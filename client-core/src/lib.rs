//! Fieldloop's shared core. `model` holds the record documents and their rules and does no IO;
//! `wire` is the sync protocol; with the `device` feature, `store` keeps a device's records in
//! one SQLite file and `sync` talks to the server.

/// The Automerge version the documents are made with, for callers that need its types.
pub use automerge;

pub mod model;
pub mod wire;

#[cfg(feature = "device")]
pub mod clock;
#[cfg(feature = "device")]
pub mod photo;
#[cfg(feature = "device")]
pub mod store;
#[cfg(feature = "device")]
pub mod sync;

#[cfg(feature = "device")]
mod error;
#[cfg(feature = "device")]
pub use error::{Error, Result};
