//! What an edit is asked for and what it gives back: the pin request (backend and channel
//! family, and how each family spells it) and the edited text with what was changed.

use crate::facts::blas::{BlasImpl, ChannelFamily};

use super::error::EditError;
use super::text::Encoding;

/// What to pin: a concrete backend, spelled for a channel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinRequest {
    pub backend: BlasImpl,
    /// `CondaForge` or `Defaults` (anything else is refused by `check`).
    pub family: ChannelFamily,
}

impl PinRequest {
    pub fn new(backend: BlasImpl, family: ChannelFamily) -> Self {
        PinRequest { backend, family }
    }

    /// The request is one a channel family can satisfy.
    pub fn check(&self) -> Result<(), EditError> {
        let ok = match self.family {
            ChannelFamily::CondaForge => matches!(
                self.backend,
                BlasImpl::Mkl
                    | BlasImpl::Openblas
                    | BlasImpl::Blis
                    | BlasImpl::Accelerate
                    | BlasImpl::Netlib
                    | BlasImpl::Nvpl
            ),
            ChannelFamily::Defaults => matches!(self.backend, BlasImpl::Mkl | BlasImpl::Openblas),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(EditError::UnsupportedBackend {
                backend: self.backend,
                family: self.family,
            })
        }
    }

    /// The package whose build string selects the BLAS in this family.
    pub fn selector_name(&self) -> &'static str {
        match self.family {
            ChannelFamily::Defaults => "blas",
            _ => "libblas",
        }
    }

    /// The build glob for the selector (`*mkl` on conda-forge, `mkl` for defaults' `blas`).
    pub fn build_glob(&self) -> String {
        build_glob_for(self.selector_name(), self.backend)
    }

    /// The MatchSpec line: `libblas=*=*mkl` (conda-forge), `blas=*=mkl` (defaults). Also what
    /// goes, unquoted, into `conda-meta/pinned`.
    pub fn spec(&self) -> String {
        format!("{}=*={}", self.selector_name(), self.build_glob())
    }

    /// The pixi manifest entry (pixi needs the table form for a build).
    pub fn pixi_line(&self) -> String {
        format!(
            "{} = {{ build = \"{}\" }}",
            self.selector_name(),
            self.build_glob()
        )
    }
}

/// The build glob that selects `backend` for a selector package of this name: conda-forge's
/// `libblas`-family builds end in `_<impl>` (`*mkl`), the `blas` metapackage's build is the
/// bare implementation name (`mkl`) in both families.
pub fn build_glob_for(name: &str, backend: BlasImpl) -> String {
    if name == "blas" {
        backend.as_str().to_string()
    } else {
        format!("*{}", backend.as_str())
    }
}

/// The result of an edit: the text before and after, the bytes to write, and what was done.
#[derive(Debug, Clone)]
pub struct Edited {
    pub before: String,
    pub after: String,
    /// `after`, encoded like the original.
    pub bytes: Vec<u8>,
    pub encoding: Encoding,
    /// One line per change made ("replaced `nomkl` by `libblas=*=*mkl`").
    pub changes: Vec<String>,
    /// Things the user should know that were not edited (pip NumPy, leftover MKL packages...).
    pub notes: Vec<String>,
}

impl Edited {
    /// Nothing to change: the file already pins the backend.
    pub fn is_noop(&self) -> bool {
        self.before == self.after
    }
}
