//! `set_without`: the ops it names take Burn's layers, the others stay ours, and the empty set
//! gives them all back. A file of its own, so a process of its own: the choice is the
//! process's, and the other tests must see every op as theirs.

use ae_kernels::{Op, OpSet, set_without};
use burn::prelude::*;

#[test]
fn the_ops_set_without_take_burns_layers_and_the_rest_stay_ours() {
    let device = Device::flex();
    let ours = [Op::MaxPool, Op::Conv, Op::ConvTranspose, Op::Bce, Op::Adam];
    assert!(ours.iter().all(|op| op.used_on(&device)));

    set_without(OpSet::parse("conv, adam").unwrap());
    let used: Vec<bool> = ours.iter().map(|op| op.used_on(&device)).collect();
    assert_eq!(used, [true, false, true, true, false]);
    assert!(!ae_kernels::used_on(&device), "conv is one of the four");
    // Where an op has no kernel, leaving it out changes nothing.
    assert!(!Op::Linear.used_on(&device) && Op::Conv.runs_on(&device));

    set_without(OpSet::default());
    assert!(ours.iter().all(|op| op.used_on(&device)));
    assert!(ae_kernels::used_on(&device));
}

#[test]
fn op_sets_read_and_write_the_ops_names() {
    let set = OpSet::parse("adam-group,linear").unwrap();
    assert!(set.contains(Op::Linear) && set.contains(Op::AdamGroup));
    assert!(!set.contains(Op::Adam) && !set.contains(Op::Gaussian));
    // Written in the ops' order, whatever order they were read in.
    assert_eq!(set.to_string(), "linear,adam-group");
    assert_eq!(OpSet::parse(&set.to_string()).unwrap(), set);
    assert_eq!(OpSet::parse("").unwrap(), OpSet::default());
    for op in Op::ALL {
        assert_eq!(OpSet::parse(op.name()).unwrap().to_string(), op.name());
    }
    let err = OpSet::parse("linear,dense").unwrap_err();
    assert!(
        err.contains("'dense'") && err.contains("adam-group"),
        "{err}"
    );
}
