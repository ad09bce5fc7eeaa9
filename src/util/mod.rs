//! Small utilities that import nothing of the crate: generations on disk, the run lock, XDG
//! paths, progress bars, text helpers, bounded reads and safe file names, terminal output, the one redaction of secrets.

pub mod fsx;
pub mod generations;
pub mod hmac;
pub mod http;
pub mod httpd;
pub mod lock;
pub mod out;
pub mod paths;
pub mod progress;
pub mod redact;
pub mod text;
pub mod time;
pub mod token;
