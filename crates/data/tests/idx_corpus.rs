//! The fuzzer's corpus for the IDX reader (fuzz/, `cargo fuzz run idx`), kept as regression
//! cases: inputs that reach every branch it found, each run through the fuzz target's checks
//! (`idx::check_any_input`). First byte: rank 1 when even, 3 when odd; the rest: an IDX file,
//! raw or gzip.

use ae_data::idx;
use std::path::Path;

#[test]
fn every_corpus_input_parses_or_fails_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idx-corpus");
    let mut inputs = 0;
    let mut parsed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        inputs += 1;
        parsed += usize::from(idx::check_any_input(&input));
    }
    // The corpus holds both kinds: inputs that parse and inputs that are refused.
    assert!(
        inputs >= 20,
        "only {inputs} corpus inputs in {}",
        dir.display()
    );
    assert!(parsed > 0 && parsed < inputs, "{parsed} of {inputs} parsed");
}
