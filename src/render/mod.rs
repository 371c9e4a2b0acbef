//! Printing: the doctor report (human and JSON), explanations from templates, colours, and
//! the writers that never panic on a closed stream.

pub mod apply;
pub mod bench;
pub mod diff;
pub mod explain;
pub mod out;
pub mod report;
pub mod style;
pub mod text;
