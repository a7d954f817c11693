//! The archive: whole collections made into reports ([`batch`]), kept in one database
//! ([`store`]) and searched down to the second ([`search`], with the grammar of [`query`]).
//! It reads finished documents and never reaches back into recognition.
#![forbid(unsafe_code)]

pub mod batch;
pub mod claim;
pub mod query;
pub mod search;
pub mod serve;
pub mod store;

pub use batch::{BatchConfig, BatchError, Item, Observer, Outcome, Summary};
pub use query::Filters;
pub use search::Hit;
pub use store::{Db, Store, StoreError};
