//! One module per area; the live-cluster tests run on real clusters (`support::cluster`).

mod admin_live;
mod admin_writer;
mod agent;
mod aichat;
mod alerts_live;
mod doctor_live;
mod doctor_replay;
mod embedding;
mod files;
mod fuzz;
mod hardening;
mod hybrid;
mod knowledge;
mod serve;
mod server_reference;
mod servers;
mod watch;
