//! Fuzzes the IDX reader: any bytes, raw or gzip, as a file of rank 1 (labels) or 3 (images).
//! It must return an array or a typed error, never panic; and a parsed array must hold exactly
//! the elements its dimensions promise.
#![no_main]

use ae_data::idx;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else {
        return;
    };
    let rank = if selector & 1 == 0 { 1 } else { 3 };
    let path = Path::new("fuzz.idx");
    let Ok(bytes) = idx::inflate_if_gz(bytes.to_vec(), path) else {
        return;
    };
    if let Ok(array) = idx::parse(&bytes, rank, path) {
        assert_eq!(array.dims.len(), usize::from(rank));
        assert_eq!(array.dims.iter().product::<usize>(), array.data.len());
        // What parses re-encodes to the same bytes.
        let dims: Vec<u32> = array.dims.iter().map(|&d| d as u32).collect();
        assert_eq!(idx::encode(&dims, &array.data), bytes);
    }
});
