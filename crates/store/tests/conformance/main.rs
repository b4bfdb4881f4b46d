//! The store's conformance suite: every test is written once as `async fn(Store)` and
//! runs on SQLite (a fresh file) and on PostgreSQL (a fresh database on the server named
//! by `DROVER_TEST_POSTGRES_URL`; `scripts/pg-test-server` starts one). Without that
//! variable the PostgreSQL half fails: it never passes silently.

#![allow(clippy::unwrap_used)]

mod backends;
mod console;
mod deployments;
mod inventory;
mod nodes;
mod packages;
mod scan_facts;
mod schedules;
mod selections;
mod users;
