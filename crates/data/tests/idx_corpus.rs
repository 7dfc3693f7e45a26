//! The fuzzer's corpus for the IDX reader (fuzz/, `cargo fuzz run idx`), kept as regression
//! cases: inputs that reach every branch it found, each run through the same checks as the
//! fuzz target. First byte: rank 1 when even, 3 when odd; the rest: an IDX file, raw or gzip.

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
        let Some((&selector, bytes)) = input.split_first() else {
            continue;
        };
        let rank = if selector & 1 == 0 { 1 } else { 3 };
        let path = Path::new("corpus.idx");
        let Ok(bytes) = idx::inflate_if_gz(bytes.to_vec(), path) else {
            continue;
        };
        if let Ok(array) = idx::parse(&bytes, rank, path) {
            parsed += 1;
            assert_eq!(array.dims.len(), usize::from(rank));
            assert_eq!(array.dims.iter().product::<usize>(), array.data.len());
            let dims: Vec<u32> = array.dims.iter().map(|&d| d as u32).collect();
            assert_eq!(idx::encode(&dims, &array.data), bytes);
        }
    }
    // The corpus holds both kinds: inputs that parse and inputs that are refused.
    assert!(
        inputs >= 20,
        "only {inputs} corpus inputs in {}",
        dir.display()
    );
    assert!(parsed > 0 && parsed < inputs, "{parsed} of {inputs} parsed");
}
