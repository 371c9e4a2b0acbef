//! Printing: the doctor report (human and JSON), explanations from templates, colours.

pub mod explain;
pub mod report;
pub mod style;
