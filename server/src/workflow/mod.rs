//! The back-office rules of the regulation as pure functions: no IO, time passed in.
//! `calendar` counts days in the company's zone, `authority` decides approval levels,
//! `complaint` is the complaint case's state machine, `numbering` formats complaint numbers,
//! `settlement` checks returns and allowances (§4.9).

pub mod alerts;
pub mod authority;
pub mod calendar;
pub mod complaint;
pub mod numbering;
pub mod service;
pub mod settlement;
