//! Integration tests: corpus_envs.
