//! Diagnosis: the read-only [`incus`] client → one read of the [`cluster`] state → the
//! [`checks`] → the [`doctor`]'s findings; [`status`] and [`snapshot`] read the same state,
//! [`redact`] removes secrets from whatever leaves.

pub mod checks;
pub mod cluster;
pub mod doctor;
pub mod incus;
pub mod redact;
pub mod review;
pub mod snapshot;
pub mod status;
