//! Every model on every backend: shapes, learning, itemised loss terms, and weights that
//! survive a save and a load.

use crate::backend_test;
use crate::common::{device, synthetic_batch, temp_dir};
use ae_data::{Samples, synthetic};
use ae_models::{AeBatch, Autoencoder};
use autoencoders::config::{ModelName, RunConfig};
use autoencoders::input::batch::samples_tensor;
use autoencoders::run_dir::RunDir;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::train::TrainStep;

fn build(model: ModelName, device: &Device) -> (RunConfig, Autoencoder) {
    let cfg = model.default_config();
    let ae = Autoencoder::new(&cfg.network, cfg.loss, cfg.sample_shape(), device).unwrap();
    (cfg, ae)
}

/// `n` inputs of the kind `cfg`'s data set holds.
fn inputs(cfg: &RunConfig, n: usize, device: &Device) -> Tensor<4> {
    if cfg.dataset.images().is_some() {
        return synthetic_batch(n, device);
    }
    let set = Samples::Vectors(synthetic::onehot4(n.div_ceil(4)));
    let indices: Vec<usize> = (0..n).collect();
    samples_tensor(&set, &indices, device)
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar()
}

backend_test!(fn shapes_of_every_model(backend) {
    let dev = device(backend);
    for model in ModelName::ALL {
        let (cfg, ae) = build(model, &dev);
        let code = match model {
            ModelName::ConvAe | ModelName::DenoisingAe => 128,
            ModelName::DenseAe | ModelName::DeepAe | ModelName::LinearAe => 32,
            ModelName::SparseAe => 64,
            ModelName::Vae => 20,
            ModelName::BinaryAe => 2,
        };
        assert_eq!(cfg.network.code_dim(), code, "{model} config");
        let x = inputs(&cfg, 3, &dev);
        let codes = ae.encode(x.clone());
        assert_eq!(codes.dims(), [3, code], "{model} code");
        // Each input has a code of its own: the encoder reads its input.
        let rows: Vec<f32> = codes.clone().into_data().iter::<f32>().collect();
        let row = |i: usize| &rows[i * code..(i + 1) * code];
        assert!(row(0) != row(1) && row(1) != row(2) && row(0) != row(2), "{model}: {rows:?}");
        let y = ae.decode(codes);
        assert_eq!(y.dims(), x.dims(), "{model} output");
    }
});

backend_test!(fn every_model_learns_and_itemises_its_loss(backend) {
    let dev = device(backend).autodiff();
    for model in ModelName::ALL {
        // Seeded: with a random start the 4-2-4 toy sometimes moves less than 10% in 8 steps.
        dev.seed(42);
        let (cfg, mut ae) = build(model, &dev);
        let x = inputs(&cfg, 16, &dev);
        let batch = AeBatch {
            input: x.clone(),
            target: x,
            indices: (0..16).collect(),
            anneal: 1.0,
            noise: None,
        };
        let lr = if model == ModelName::BinaryAe { 0.1 } else { 1e-2 };
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..8 {
            let out = TrainStep::step(&ae, batch.clone());
            let names: Vec<&str> = out.item.loss.terms.iter().map(|(n, _)| *n).collect();
            let expected = cfg.network.term_names();
            if !expected.is_empty() {
                assert_eq!(names, expected, "{model}: the dashboard's terms");
            }
            losses.push(out.item.loss.total.clone().into_scalar::<f32>());
            ae = ae.optimize(&mut optim, lr.into(), out.grads);
        }
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(losses.iter().all(|l| l.is_finite()), "{model}: {losses:?}");
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
        let x = inputs(&cfg, 4, &dev);
        // The VAE's reconstruction uses the posterior mean: deterministic like the others.
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
    for other in [ModelName::ConvAe, ModelName::Vae, ModelName::DeepAe] {
        // The same folder now claims to hold another model.
        run.save_config(&other.default_config()).unwrap();
        let err = format!("{:#}", run.load_model(&dev).unwrap_err());
        assert!(err.contains(&format!("does not fit the {other}")), "{err}");
    }
}

backend_test!(fn images_kept_on_the_device_unpack_to_the_host_batch(backend) {
    // Pixels travel packed four to an int word and are unpacked by the backend's own integer
    // shifts and masks (on wgpu by ae-kernels' one kernel): every byte value, on every backend.
    let dev = device(backend);
    let pixels = (0..6 * 784).map(|i| (i * 131 % 256) as u8).collect();
    let set = Samples::Images(ae_data::ImageSet {
        channels: 1,
        rows: 28,
        cols: 28,
        pixels,
        labels: vec![9, 8, 7, 6, 5, 4],
    });
    let resident = autoencoders::input::resident::ResidentSet::upload(
        &set,
        &dev,
        autoencoders::input::resident::DEFAULT_MAX_BYTES,
    )
    .unwrap();
    let indices = [5, 0, 2, 2];
    let x = resident.gather(&indices);
    let host = samples_tensor(&set, &indices, &dev);
    assert!(max_abs_diff(x, host) < 1e-6);
});

#[test]
fn footprints_count_the_parameters_burn_builds() {
    let dev = Device::flex();
    let mut configs: Vec<RunConfig> = ModelName::ALL.iter().map(|m| m.default_config()).collect();
    // The conv VAE and a deeper dense net too.
    let mut conv_vae = ModelName::Vae.default_config();
    if let ae_models::NetworkConfig::Vae(v) = &mut conv_vae.network
        && let ae_models::NetworkConfig::Conv(c) = ModelName::ConvAe.default_config().network
    {
        v.arch = ae_models::VaeArch::Conv(c);
    }
    configs.push(conv_vae);
    let mut wide = ModelName::ConvAe.default_config();
    wide.network = ae_models::NetworkConfig::ConvWide(autoencoders::train::defaults::wide());
    configs.push(wide);
    for cfg in configs {
        let counted = cfg.network.footprint(cfg.sample_shape());
        let built = cfg.network.init(&dev).num_params();
        assert_eq!(counted.params, built as f64, "{}", cfg.model);
        assert!(counted.largest_param <= counted.params);
        assert!(counted.activations >= counted.largest_activation);
    }
}

backend_test!(fn conv_nets_take_images_of_any_size_and_channels(backend) {
    let dev = device(backend);
    for [c, h, w] in [[3, 30, 45], [1, 45, 30], [1, 1, 1], [3, 9, 17], [1, 64, 64]] {
        let mut conv = match ModelName::ConvAe.default_config().network {
            ae_models::NetworkConfig::Conv(conv) => conv,
            _ => unreachable!("config/conv-ae.json holds a conv network"),
        };
        conv.in_channels = c;
        conv.image_size = Some([h, w]);
        let vae = ae_models::VaeConfig {
            arch: ae_models::VaeArch::Conv(conv.clone()),
            ..match ModelName::Vae.default_config().network {
                ae_models::NetworkConfig::Vae(v) => v,
                _ => unreachable!("config/vae.json holds a VAE"),
            }
        };
        let wide = ae_models::ConvWideConfig {
            in_channels: c,
            image_size: Some([h, w]),
            ..autoencoders::train::defaults::wide()
        };
        let nets = [
            ae_models::NetworkConfig::Conv(conv),
            ae_models::NetworkConfig::Vae(vae),
            ae_models::NetworkConfig::ConvWide(wide),
        ];
        for net in nets {
            net.validate([c, h, w]).unwrap();
            let ae = Autoencoder::new(&net, ae_models::ReconLoss::Bce, [c, h, w], &dev).unwrap();
            let x = Tensor::<4>::random([2, c, h, w], burn::tensor::Distribution::Default, &dev);
            let codes = ae.encode(x.clone());
            assert_eq!(codes.dims(), [2, net.code_dim()], "{c}x{h}x{w}");
            assert_eq!(ae.decode(codes).dims(), [2, c, h, w], "{c}x{h}x{w}");
            // The counted parameters are the ones built.
            let counted = net.footprint([c, h, w]).params;
            assert_eq!(counted, net.init(&dev).num_params() as f64, "{c}x{h}x{w}");
            // Another size is refused with both sizes named.
            let err = net.validate([c, h + 1, w]).unwrap_err().to_string();
            assert!(err.contains(&format!("{c}x{h}x{w}")), "{err}");
        }
    }
});
