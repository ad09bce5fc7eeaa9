//! The integration tests, one binary (as ripgrep's `tests/tests.rs`): each file under `it/`
//! is a module, `support/` their shared helpers. Linking the crate and its dependencies once
//! instead of once per file is most of a fresh `make test`'s compile time.

mod it;
mod support;
