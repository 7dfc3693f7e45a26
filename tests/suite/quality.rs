//! Quality on real MNIST: conv-ae after one epoch on the CPU must reach a test BCE (per-pixel
//! mean) below 0.17 (Keras reaches 0.122 on the same net after 3 epochs). Needs `AE_DATA_DIR`;
//! CI sets it, so there this test always runs.

use crate::cli::last_test_loss;
use crate::common::temp_dir;
use std::process::Command;

#[test]
fn conv_ae_reaches_its_bound_after_one_epoch_on_real_mnist() {
    let Some(data) = std::env::var_os("AE_DATA_DIR") else {
        assert!(std::env::var_os("CI").is_none(), "CI must set AE_DATA_DIR");
        eprintln!("NOTE: quality check left out: AE_DATA_DIR is not set");
        return;
    };
    let out = temp_dir("quality").join("conv-ae");
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args([
            "conv-ae",
            "--backend",
            "flex",
            "--epochs",
            "1",
            "--no-dashboard",
            "--out",
        ])
        .arg(&out)
        .env("AE_DATA_DIR", data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let loss = last_test_loss(&out);
    eprintln!("QUALITY conv-ae, 1 epoch, flex, real MNIST: test BCE {loss:.4} ({stdout})");
    assert!(
        loss < 0.17,
        "conv-ae test BCE after 1 epoch is {loss:.4}, bound 0.17"
    );
}
