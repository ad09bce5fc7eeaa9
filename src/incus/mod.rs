//! Reading a live Incus server through its REST API.

pub mod socket;
