//! The AIChat integration: its [`config`] (folders, `config.yaml`, clients and models), the
//! [`rag`] export with its [`chunk`]s and [`embed`]dings. Never imports the agent.

pub mod chunk;
pub mod config;
pub mod embed;
pub mod rag;
