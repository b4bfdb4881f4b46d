//! End-to-end tests: the real server on port 0 (SQLite and PostgreSQL), driven over its
//! HTTP API and CLI, deploying to real OpenSSH servers on test hosts made by
//! `testfleet/fleet` (network namespaces on a private bridge; needs root).

#![allow(clippy::unwrap_used)]

mod fleet;
mod harness;
mod tls;

mod cancel;
mod cli;
mod console;
mod console_editor;
mod console_scan;
mod credentials;
mod deploy;
mod faults;
mod final_actions;
mod hostile;
mod nodes;
mod offline;
mod partitions;
mod reboots;
mod releases;
mod restart;
mod run_modes;
mod scan;
mod schedules;
mod security;
mod selections;
mod share_locations;
mod systemd;
mod target_security;
mod threads;
mod timeouts;
