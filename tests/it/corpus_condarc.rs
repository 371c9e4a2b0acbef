//! Integration tests: corpus_condarc.
