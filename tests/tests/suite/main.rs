//! The end-to-end suite as one test binary (it links once): real servers on ports, real
//! devices with their own store files, real browsers, on SQLite and PostgreSQL.

mod admin;
mod alerts;
mod complaints;
mod faults;
mod foundation;
mod masters;
mod observe;
mod office_tasks;
mod openapi;
mod photos;
mod reports;
mod service;
mod storage;
mod sweep;
mod tidy;
mod web;
