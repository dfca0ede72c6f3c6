//! The serde bridge: Rust types to and from [`Value`](super::Value).
