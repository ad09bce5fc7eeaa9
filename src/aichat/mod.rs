//! The AIChat integration: its [`config`] (folders, `config.yaml`, clients and models), the
//! [`rag`] export with its [`chunk`]s and [`embed`]dings, and [`serve`], the local embedding
//! model as an endpoint for AIChat's queries. Never imports the agent.

pub mod chunk;
pub mod config;
pub mod embed;
pub mod local_client;
pub mod rag;
pub mod serve;
