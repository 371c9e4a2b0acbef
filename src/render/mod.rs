//! Renderers: facts and findings to text and JSON.

pub mod ps;
