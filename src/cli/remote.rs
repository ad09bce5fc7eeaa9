//! Options shared by the commands that read a live cluster.

use std::time::Duration;

use super::{Failure, exit};
use crate::admin::writer::Writer;
use crate::diagnosis::incus::{Client, ClientError, remote};

/// Which server to read, as with `incus`.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// Remote from the incus CLI's configuration (`incus remote list`) [default: its default remote]
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Seconds before one API request gives up
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::of(exit::FAILURE, &e)
    }
}

impl RemoteArgs {
    /// Resolves the remote and prepares a read-only client.
    pub fn client(&self) -> Result<Client, Failure> {
        let target = remote::resolve(self.remote.as_deref())?;
        Ok(Client::connect(
            &target,
            Duration::from_secs(self.timeout.max(1)),
        )?)
    }

    /// The write-capable client of the same remote (`--allow-changes` only).
    pub fn writer(&self) -> Result<Writer, Failure> {
        let target = remote::resolve(self.remote.as_deref())?;
        Ok(Writer::connect(
            &target,
            Duration::from_secs(self.timeout.max(1)),
        )?)
    }
}
