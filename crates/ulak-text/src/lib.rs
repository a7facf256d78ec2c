//! SMS text engine.
