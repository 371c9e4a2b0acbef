//! Editing environment specs without disturbing them: the BLAS pin in environment.yml
//! (comments, quoting, indentation, CRLF, UTF-16 kept), pixi.toml and pyproject.toml; every edit
//! verified by re-parsing before it is written.
