//! Plans for `apply`: a pure function from the facts and the requested backend to the exact
//! install command for the environment's channel family, the `pinned` edits, or a refusal with
//! the alternatives that exist.
