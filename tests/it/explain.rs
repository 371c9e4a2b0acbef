//! Integration tests: explain.
