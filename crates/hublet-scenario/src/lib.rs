//! QA scenarios: a board's behaviour written down, checked and reported.
//!
//! - [`format`]: the file format (TOML), the one definition of it; the JSON
//!   Schema in `docs/scenario.schema.json` is generated from it ([`schema`]).
//! - [`load`]: reading a file, with every problem reported by file, line
//!   and column before anything runs.
//! - [`template`], [`matcher`]: `{{var}}` values and the checks on JSON.
//! - [`run`]: matrix rows into cases, and the runner, which drives a hub
//!   through its REST API ([`hub`]) exactly as a back end or CI job would:
//!   it needs no access to the engine, so it runs against any hub.
//! - [`outcome`], [`junit`]: what a run found, as JSON and JUnit XML.
//! - [`library`]: the command library (saved method calls and C2D messages).

pub mod duration;
pub mod format;
pub mod hub;
pub mod junit;
pub mod library;
pub mod load;
pub mod matcher;
pub mod outcome;
pub mod run;
pub mod schema;
pub mod template;
mod wire;

pub use hub::HubApi;
pub use load::{LoadError, Scenario, load};
pub use outcome::{CaseOutcome, RunOutcome, StepOutcome, Verdict};
pub use run::{Case, Progress, Runner, cases};
