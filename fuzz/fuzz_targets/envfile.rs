//! Fuzz the pin editor: for any input, no panic; any edit it returns re-parses, verifies
//! (the editor refuses otherwise) and is idempotent.
//! Run: `cargo +nightly fuzz run envfile <corpus-dir>` (seed with ../shared/corpus/envyml/*).
#![no_main]

use blasfix::facts::blas::{BlasImpl, ChannelFamily};
use blasfix::change::envfile::{ManifestKind, PinRequest, edit_environment_yml, edit_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, input) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    };
    let backend = [
        BlasImpl::Mkl,
        BlasImpl::Openblas,
        BlasImpl::Blis,
        BlasImpl::Accelerate,
    ][usize::from(selector & 3)];
    let family = if selector & 4 == 0 {
        ChannelFamily::CondaForge
    } else {
        ChannelFamily::Defaults
    };
    let req = PinRequest::new(backend, family);
    if selector & 8 == 0 {
        if let Ok(e) = edit_environment_yml(input, &req) {
            if !e.is_noop() {
                let again =
                    edit_environment_yml(&e.bytes, &req).expect("an edited file must edit again");
                assert!(
                    again.is_noop(),
                    "not idempotent:\n{}\n---\n{}",
                    e.after,
                    again.after
                );
            }
        }
    } else {
        let kind = if selector & 16 == 0 {
            ManifestKind::Pixi
        } else {
            ManifestKind::Pyproject
        };
        if let Ok(e) = edit_manifest(input, kind, &req) {
            if !e.is_noop() {
                let again = edit_manifest(&e.bytes, kind, &req)
                    .expect("an edited manifest must edit again");
                assert!(
                    again.is_noop(),
                    "not idempotent:\n{}\n---\n{}",
                    e.after,
                    again.after
                );
            }
        }
    }
});
