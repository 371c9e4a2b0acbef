use super::*;
use crate::change::envfile::text::{Encoding, encode};
use crate::facts::blas::BlasImpl::*;

fn req(b: BlasImpl, f: ChannelFamily) -> PinRequest {
    PinRequest::new(b, f)
}
fn cf(b: BlasImpl) -> PinRequest {
    req(b, ChannelFamily::CondaForge)
}

/// Edit and check idempotence; returns the new text.
fn ed(src: &str, r: PinRequest) -> String {
    let e = edit_environment_yml(src.as_bytes(), &r).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let again = edit_environment_yml(&e.bytes, &r).unwrap();
    assert!(
        again.is_noop(),
        "not idempotent:\n{}\n=>\n{}",
        e.after,
        again.after
    );
    e.after
}

fn err(src: &str, r: PinRequest) -> EditError {
    edit_environment_yml(src.as_bytes(), &r).unwrap_err()
}

#[test]
fn adds_after_last_item_for_each_indent() {
    for ind in ["", " ", "  ", "    "] {
        let src = format!(
            "name: x\nchannels:\n{ind}- conda-forge\ndependencies:\n{ind}- python\n{ind}- numpy\n"
        );
        let want = format!("{src}{ind}- libblas=*=*mkl\n");
        assert_eq!(ed(&src, cf(Mkl)), want, "indent {:?}", ind.len());
    }
}

#[test]
fn keeps_crlf_and_missing_final_newline() {
    let src = "name: x\r\ndependencies:\r\n  - numpy\r\n  - scipy";
    assert_eq!(
        ed(src, cf(Openblas)),
        "name: x\r\ndependencies:\r\n  - numpy\r\n  - scipy\r\n  - libblas=*=*openblas"
    );
}

#[test]
fn utf16le_bom_is_decoded_and_reencoded() {
    let src = "name: x\r\nchannels:\r\n  - defaults\r\ndependencies:\r\n  - blas=1.0\r\n  - numpy=1.26.4\r\n";
    let bytes = encode(src, Encoding::Utf16LeBom);
    let e = edit_environment_yml(&bytes, &req(Mkl, ChannelFamily::Defaults)).unwrap();
    assert_eq!(e.encoding, Encoding::Utf16LeBom);
    assert_eq!(e.after, src.replace("blas=1.0\r", "blas=1.0=mkl\r"));
    assert_eq!(&e.bytes[..2], &[0xFF, 0xFE]);
    assert_eq!(e.bytes, encode(&e.after, Encoding::Utf16LeBom));
}

#[test]
fn end_of_line_comments_kept_or_dropped() {
    let src = "dependencies:\n  - libblas=*=*openblas  # see NOTES\n  - liblapack=*=*openblas # OpenBLAS is faster here\n  - numpy # the point\n";
    let out = ed(src, cf(Mkl));
    assert_eq!(
        out,
        "dependencies:\n  - libblas=*=*mkl  # see NOTES\n  - liblapack=*=*mkl\n  - numpy # the point\n"
    );
}

#[test]
fn comment_only_list_is_null_and_gets_the_first_item() {
    let src = "name: x\n\nchannels: \n    - conda-forge\n\ndependencies:\n#  - python\n # - numpy\n\n\n  #- last";
    let out = ed(src, cf(Mkl));
    assert_eq!(
        out,
        src.replace("dependencies:\n", "dependencies:\n    - libblas=*=*mkl\n")
    );
}

#[test]
fn absent_dependencies_and_empty_files() {
    assert_eq!(
        ed("name: x\n", cf(Mkl)),
        "name: x\ndependencies:\n  - libblas=*=*mkl\n"
    );
    assert_eq!(
        ed("name: x", cf(Mkl)),
        "name: x\ndependencies:\n  - libblas=*=*mkl"
    );
    assert_eq!(ed("", cf(Mkl)), "dependencies:\n  - libblas=*=*mkl\n");
    assert_eq!(
        ed("# nothing yet\n", cf(Mkl)),
        "# nothing yet\ndependencies:\n  - libblas=*=*mkl\n"
    );
    assert_eq!(
        ed("name: x\nchannels:\n- conda-forge\n", cf(Mkl)),
        "name: x\nchannels:\n- conda-forge\ndependencies:\n- libblas=*=*mkl\n"
    );
}

#[test]
fn pip_subsection_untouched_with_a_note() {
    let src =
        "dependencies:\n  - python\n  - pip\n  - pip:\n      - numpy==1.24.3\n      - requests\n";
    let e = edit_environment_yml(src.as_bytes(), &cf(Mkl)).unwrap();
    assert_eq!(
        e.after,
        src.replace("  - pip\n", "  - pip\n  - libblas=*=*mkl\n")
    );
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("numpy==1.24.3") && n.contains("pip")),
        "{:?}",
        e.notes
    );
    // only a pip mapping: the pin goes first
    let src = "dependencies:\n  - pip:\n    - x\n";
    assert_eq!(
        ed(src, cf(Mkl)),
        "dependencies:\n  - libblas=*=*mkl\n  - pip:\n    - x\n"
    );
    // a libblas line under pip is not a conda pin
    let src = "dependencies:\n  - pip:\n    - libblas=*=*openblas\n";
    assert_eq!(
        ed(src, cf(Mkl)),
        "dependencies:\n  - libblas=*=*mkl\n  - pip:\n    - libblas=*=*openblas\n"
    );
}

#[test]
fn channel_qualified_and_bracket_specs() {
    let src = "dependencies:\n- conda-forge::numpy>=1.26.0  # see NOTES\n- conda-forge::libblas=*[build=*accelerate]  # see NOTES\n- conda-forge::libcblas=*[build=*accelerate]  # see NOTES\n";
    let out = ed(src, cf(Openblas));
    assert_eq!(out, src.replace("*accelerate", "*openblas"));
    let src = "dependencies:\n  - \"libblas=*=*openblas\"\n  - 'nomkl'\n";
    assert_eq!(ed(src, cf(Mkl)), "dependencies:\n  - \"libblas=*=*mkl\"\n");
}

#[test]
fn conda_forge_export_moves_every_blas_output() {
    let src = "dependencies:\n  - _openmp_mutex=4.5=2_gnu\n  - libblas=3.9.0=20_linux64_openblas\n  - libcblas=3.9.0=20_linux64_openblas\n  - liblapack=3.9.0=20_linux64_openblas\n  - libopenblas=0.3.25=pthreads_h413a1c8_0\n  - numpy=1.24.4=py38h59b608b_0\nprefix: /x\n";
    let e = edit_environment_yml(src.as_bytes(), &cf(Mkl)).unwrap();
    assert_eq!(
        e.after,
        "dependencies:\n  - _openmp_mutex=4.5\n  - libblas=3.9.0=*mkl\n  - libcblas=3.9.0=*mkl\n  - liblapack=3.9.0=*mkl\n  - libopenblas=0.3.25=pthreads_h413a1c8_0\n  - numpy=1.24.4=py38h59b608b_0\nprefix: /x\n"
    );
    assert!(
        e.notes.iter().any(|n| n.contains("libopenblas")),
        "{:?}",
        e.notes
    );
    assert_eq!(e.changes.len(), 4, "{:?}", e.changes);
}

#[test]
fn defaults_export_with_numpy_build_is_refused() {
    let src = "channels:\n  - defaults\ndependencies:\n  - blas=1.0=mkl\n  - numpy=1.16.4=py36h7e9f1db_0\n";
    assert!(matches!(
        err(src, req(Openblas, ChannelFamily::Defaults)),
        EditError::BuildPinnedExport { .. }
    ));
    // already MKL: nothing to do, no refusal
    assert_eq!(ed(src, req(Mkl, ChannelFamily::Defaults)), src);
}

#[test]
fn nomkl_contradictions() {
    let src = "dependencies:\n  - openblas\n  - nomkl\n  - scipy\n";
    assert_eq!(
        ed(src, cf(Mkl)),
        "dependencies:\n  - openblas\n  - libblas=*=*mkl\n  - scipy\n"
    );
    let src = "dependencies:\n  - libblas=*=*mkl\n  - nomkl\n";
    assert_eq!(ed(src, cf(Mkl)), "dependencies:\n  - libblas=*=*mkl\n");
    let src = "dependencies:\n  - mkl\n  - nomkl\n";
    let e = edit_environment_yml(src.as_bytes(), &cf(Openblas)).unwrap();
    assert!(
        e.notes.iter().any(|n| n.contains("contradict")),
        "{:?}",
        e.notes
    );
    // nomkl as the last line without a final newline
    let src = "dependencies:\n  - libblas=*=*mkl\n  - nomkl";
    assert_eq!(ed(src, cf(Mkl)), "dependencies:\n  - libblas=*=*mkl");
}

#[test]
fn already_pinned_is_a_noop() {
    let src = "dependencies:\n  - blas=*=mkl\n";
    assert!(
        edit_environment_yml(src.as_bytes(), &cf(Mkl))
            .unwrap()
            .is_noop()
    );
    let src = "dependencies:\n  - libblas=*=*mkl\n";
    assert!(
        edit_environment_yml(src.as_bytes(), &req(Mkl, ChannelFamily::Defaults))
            .unwrap()
            .is_noop()
    );
}

#[test]
fn refusals_leave_reasons() {
    assert!(matches!(
        err("a: [\n", cf(Mkl)),
        EditError::InvalidYaml { .. }
    ));
    assert_eq!(
        err(
            "dependencies:\n<<<<<<< HEAD\n  - a\n=======\n  - b\n>>>>>>> x\n",
            cf(Mkl)
        ),
        EditError::MergeConflict { line: 2 }
    );
    assert!(matches!(err("{}\n", cf(Mkl)), EditError::FlowStyle { .. }));
    assert!(matches!(
        err("dependencies: [numpy]\n", cf(Mkl)),
        EditError::FlowStyle { .. }
    ));
    assert_eq!(err("- a\n- b\n", cf(Mkl)), EditError::NotAMapping);
    assert_eq!(
        err("dependencies: numpy\n", cf(Mkl)),
        EditError::DependenciesNotAList
    );
    assert!(matches!(
        err("dependencies:\n  - libblas=*=h1_0\n", cf(Mkl)),
        EditError::UnrecognizedBuild { .. }
    ));
    assert!(matches!(
        err(
            "dependencies:\n  - numpy\n",
            req(Blis, ChannelFamily::Defaults)
        ),
        EditError::UnsupportedBackend { .. }
    ));
    assert!(matches!(
        err(
            "dependencies:\n  - libblas=*=*openblas\n  - a\n\t- b\n",
            cf(Mkl)
        ),
        EditError::InvalidYaml { .. } | EditError::Unlocatable { .. }
    ));
}

#[test]
fn multiline_selector_is_refused_not_mangled() {
    let src = "dependencies:\n  - libblas=*=\n    *openblas\n";
    let r = edit_environment_yml(src.as_bytes(), &cf(Mkl));
    assert!(matches!(r, Err(EditError::Unlocatable { .. })), "{r:?}");
}

#[test]
fn python_tuple_tag_is_edited_around() {
    let src = "name: g\nchannels: !!python/tuple\n- defaults\ndependencies:\n- mkl=11.3.3=0\n- python=3.5.2=0\n";
    let e = edit_environment_yml(src.as_bytes(), &cf(Openblas)).unwrap();
    assert_eq!(e.after, format!("{src}- libblas=*=*openblas\n"));
    assert!(
        e.notes.iter().any(|n| n.contains("python/tuple")),
        "{:?}",
        e.notes
    );
}

#[test]
fn blank_and_comment_lines_inside_the_list_survive() {
    let src = "dependencies:\n  # Binaries\n  - eccodes\n\n  # Python\n  - numpy  # core\n  \n  # Testing\n  - pytest\n";
    assert_eq!(ed(src, cf(Mkl)), format!("{src}  - libblas=*=*mkl\n"));
}

#[test]
fn defaults_family_spelling() {
    let src = "channels:\n  - defaults\ndependencies:\n  - numpy\n  - nomkl\n";
    assert_eq!(
        ed(src, req(Mkl, ChannelFamily::Defaults)),
        "channels:\n  - defaults\ndependencies:\n  - numpy\n  - blas=*=mkl\n"
    );
    let src = "dependencies:\n  - blas=2.106=mkl\n  - libblas=3.9.0=6_mkl\n";
    assert_eq!(
        ed(src, cf(Openblas)),
        "dependencies:\n  - blas=2.106=openblas\n  - libblas=3.9.0=*openblas\n"
    );
}

#[test]
fn fuzz_found_key_with_colon_inside() {
    // `dependencies:s` is a different key: the list is absent and gets created, idempotently
    let src = "name: x\ndependencies:s:\n- a\n";
    let r = edit_environment_yml(src.as_bytes(), &cf(Mkl));
    if let Ok(e) = r {
        assert!(edit_environment_yml(&e.bytes, &cf(Mkl)).unwrap().is_noop());
    }
}
