//! The running server's own configuration reference, read for the docs collection.

use crate::diagnosis::incus::api::Server;
use crate::diagnosis::incus::{Client, ClientError};
use crate::knowledge::sources::server_config::{Configuration, ServerReference};

/// Reads `GET /1.0` (for the version) and `GET /1.0/metadata/configuration`.
pub async fn server_reference(client: &Client) -> Result<ServerReference, ClientError> {
    let server: Server = client.get("/1.0").await?;
    let configuration: Configuration = client.get("/1.0/metadata/configuration").await?;
    Ok(ServerReference {
        version: server.environment.server_version,
        configuration,
    })
}
