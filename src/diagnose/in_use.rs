//! Which BLAS NumPy runs on as far as the facts can tell, and which layer (loaded, linked,
//! declared) says so.

use serde::Serialize;

use crate::facts::Facts;
use crate::facts::blas::BlasImpl;

/// Which layer a verdict on the BLAS in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Loaded,
    Linked,
    Declared,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Loaded => "loaded",
            Layer::Linked => "linked",
            Layer::Declared => "declared",
        }
    }
}

/// The BLAS NumPy runs on as far as the facts can tell: what a real import loaded beats what
/// the binaries link, which beats what the records declare.
pub fn effective(f: &Facts) -> (BlasImpl, Layer) {
    if let Some(rt) = &f.runtime
        && rt.error.is_none()
        && rt.implementation.is_concrete()
    {
        return (rt.implementation, Layer::Loaded);
    }
    if let Some(l) = &f.linkage
        && l.implementation.is_concrete()
    {
        return (l.implementation, Layer::Linked);
    }
    (f.blas.implementation, Layer::Declared)
}
