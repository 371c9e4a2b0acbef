//! Printing: the doctor and ps reports (human and JSON), explanations from templates, colours,
//! and the writers that never panic on a closed stream.

pub mod apply;
pub mod bench;
pub mod diff;
pub mod explain;
pub mod out;
pub mod ps;
pub mod report;
pub mod style;
pub mod text;
