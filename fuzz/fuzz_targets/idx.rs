//! Fuzzes the IDX reader: any bytes, raw or gzip, as a file of rank 1 (labels) or 3 (images).
//! It must return an array or a typed error, never panic; and a parsed array must hold exactly
//! the elements its dimensions promise (the checks are `ae_data::idx::check_any_input`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    ae_data::idx::check_any_input(input);
});
