//! The HTML docs site (Sphinx with the Furo theme, as linuxcontainers.org publishes it).

pub mod crawl;
pub mod extract;
pub mod robots;
