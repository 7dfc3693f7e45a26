//! Every model on every backend: shapes, learning, and weights that survive a save and a load.

use crate::backend_test;
use crate::common::{device, synthetic_batch, temp_dir};
use ae_models::{AeBatch, Autoencoder};
use autoencoders::config::{ModelName, RunConfig};
use autoencoders::run_dir::RunDir;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::train::TrainStep;

fn build(model: ModelName, device: &Device) -> (RunConfig, Autoencoder) {
    let cfg = model.default_config();
    let ae = Autoencoder::new(&cfg.network, cfg.loss, [1, 28, 28], device).unwrap();
    (cfg, ae)
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar()
}

backend_test!(fn shapes_of_every_model(backend) {
    let dev = device(backend);
    for (model, code) in [(ModelName::ConvAe, 128), (ModelName::DenseAe, 32)] {
        let (_, ae) = build(model, &dev);
        let x = synthetic_batch(3, &dev);
        let codes = ae.encode(x.clone());
        assert_eq!(codes.dims(), [3, code], "{model} code");
        let y = ae.decode(codes);
        assert_eq!(y.dims(), [3, 1, 28, 28], "{model} output");
        let (lo, hi): (f32, f32) = (y.clone().min().into_scalar(), y.max().into_scalar());
        assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi), "{model}: {lo}..{hi}");
    }
});

backend_test!(fn loss_goes_down_over_a_few_adam_steps(backend) {
    let dev = device(backend).autodiff();
    for model in ModelName::ALL {
        let (_, mut ae) = build(model, &dev);
        let x = synthetic_batch(16, &dev);
        let batch = AeBatch {
            input: x.clone(),
            target: x,
            labels: Tensor::zeros([16], &dev),
        };
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..8 {
            let out = TrainStep::step(&ae, batch.clone());
            losses.push(out.item.loss.total.clone().into_scalar::<f32>());
            ae = ae.optimize(&mut optim, 1e-2.into(), out.grads);
        }
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(last < 0.9 * first, "{model}: loss {losses:?} did not go down");
    }
});

backend_test!(fn save_then_load_gives_the_same_outputs(backend) {
    let dev = device(backend);
    for model in ModelName::ALL {
        let (cfg, ae) = build(model, &dev);
        let dir = temp_dir(&format!("saveload-{}-{}", model, backend.as_str()));
        let run = RunDir::create(&dir, false).unwrap();
        run.save_config(&cfg).unwrap();
        run.save_weights(&ae).unwrap();
        let (loaded_cfg, loaded) = run.load_model(&dev).unwrap();
        assert_eq!(loaded_cfg.model, model);
        let x = synthetic_batch(4, &dev);
        let diff = max_abs_diff(ae.reconstruct(x.clone()), loaded.reconstruct(x));
        assert!(diff < 1e-6, "{model}: reloaded outputs differ by {diff}");
    }
});

#[test]
fn weights_of_another_model_are_refused_with_a_clear_error() {
    let dev = Device::flex();
    let (cfg, ae) = build(ModelName::DenseAe, &dev);
    let dir = temp_dir("mismatch");
    let run = RunDir::create(&dir, false).unwrap();
    run.save_config(&cfg).unwrap();
    run.save_weights(&ae).unwrap();
    // The same folder now claims to hold a conv-ae.
    run.save_config(&ModelName::ConvAe.default_config())
        .unwrap();
    let err = format!("{:#}", run.load_model(&dev).unwrap_err());
    assert!(err.contains("does not fit the conv-ae"), "{err}");
}
