//! The unpacking of a byte-packed data set on flex and ndarray (the op's host version; the
//! public function keeps Burn's operations there, where data sets stay on the host) against
//! Burn's operations and the bytes themselves. `cube.rs` checks the wgpu kernel the same way.

mod common;

use common::{assert_unpacking_matches, devices};

#[test]
fn the_data_set_s_bytes_unpack_on_the_host_backends() {
    for device in devices() {
        assert!(!ae_kernels::Op::Unpack.runs_on(&device));
        assert_unpacking_matches(&device);
    }
}
