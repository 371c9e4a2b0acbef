//! Printing: the doctor report (human and JSON), explanations from templates, colours.

pub mod apply;
pub mod bench;
pub mod diff;
pub mod explain;
pub mod report;
pub mod style;
pub mod text;
