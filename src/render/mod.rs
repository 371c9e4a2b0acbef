//! Printing: the doctor and ps reports (human and JSON), explanations from templates, colours.

pub mod apply;
pub mod bench;
pub mod diff;
pub mod explain;
pub mod ps;
pub mod report;
pub mod style;
pub mod text;
