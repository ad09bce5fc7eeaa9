//! Diagnosis: the read-only [`incus`] client → one read of the [`cluster`] state → the
//! [`checks`] → the [`doctor`]'s findings; [`status`] and [`snapshot`] read the same state
//! (secrets are removed by [`crate::util::redact`]).

pub mod checks;
pub mod cluster;
pub mod doctor;
pub mod incus;
pub mod review;
pub mod snapshot;
pub mod status;
