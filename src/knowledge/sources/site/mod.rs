//! The HTML docs site (Sphinx with the Furo theme, as linuxcontainers.org publishes it).

pub mod crawl;
pub mod extract;
pub mod fetch;
pub mod html_to_md;
pub mod nesting;
pub mod robots;
