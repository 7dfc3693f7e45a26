//! Small numerical helpers of the `ae` commands: the normal quantile function (for the VAE's
//! manifold), ROC AUC (for out-of-distribution scores) and PSNR (for compression).

/// The quantile function of the standard normal distribution, `Phi^-1(p)` for `p` in (0, 1)
/// (Acklam's rational approximation, relative error below 1.2e-9). 0 and 1 map to -inf, +inf.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The area under the ROC curve of a score meant to be higher for `positives` than for
/// `negatives`: the probability that a random positive scores above a random negative, ties
/// counting one half (the Mann-Whitney statistic). `None` when either side is empty or a score
/// is NaN.
pub fn roc_auc(negatives: &[f64], positives: &[f64]) -> Option<f64> {
    if negatives.is_empty() || positives.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = negatives
        .iter()
        .map(|&s| (s, false))
        .chain(positives.iter().map(|&s| (s, true)))
        .collect();
    if all.iter().any(|(s, _)| s.is_nan()) {
        return None;
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * all[i..j].iter().filter(|(_, p)| *p).count() as f64;
        i = j;
    }
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

/// The highest PSNR reported, in dB: what identical images get instead of infinity.
pub const PSNR_CAP: f64 = 100.0;

/// Peak signal-to-noise ratio in dB of `b` against `a`, both with values in [0, 1].
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / n;
    if mse <= 0.0 {
        PSNR_CAP
    } else {
        (10.0 * (1.0 / mse).log10()).min(PSNR_CAP)
    }
}

/// The mean of `values` (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tables() {
        assert_eq!(normal_quantile(0.5), 0.0);
        for (p, z) in [
            (0.975, 1.959_963_985),
            (0.95, 1.644_853_627),
            (0.841_344_746, 1.0),
            (0.01, -2.326_347_874),
            (1e-6, -4.753_424_309),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-7, "p {p}");
            assert!((normal_quantile(1.0 - p) + z).abs() < 1e-6, "1 - p {p}");
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
    }

    #[test]
    fn roc_auc_counts_ordered_pairs() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.3, 0.4]), Some(1.0));
        assert_eq!(roc_auc(&[0.3, 0.4], &[0.1, 0.2]), Some(0.0));
        assert_eq!(roc_auc(&[0.5, 0.5], &[0.5]), Some(0.5));
        // Pairs (neg, pos): (1,2) yes, (1,0) no, (3,2) no, (3,0) no, ties none: 1 of 4.
        assert_eq!(roc_auc(&[1.0, 3.0], &[2.0, 0.0]), Some(0.25));
        // One tie among 2 x 2 pairs: (1,1) half, (1,3) yes, (2,1) no, (2,3) yes.
        assert_eq!(roc_auc(&[1.0, 2.0], &[1.0, 3.0]), Some(0.625));
        assert_eq!(roc_auc(&[], &[1.0]), None);
        assert_eq!(roc_auc(&[f64::NAN], &[1.0]), None);
    }

    #[test]
    fn psnr_of_known_errors() {
        assert_eq!(psnr(&[0.5; 4], &[0.5; 4]), PSNR_CAP);
        // MSE 0.01 -> 20 dB.
        assert!((psnr(&[0.0; 4], &[0.1; 4]) - 20.0).abs() < 1e-5);
        assert!((mean(&[1.0, 2.0, 6.0]) - 3.0).abs() < 1e-12);
    }
}
