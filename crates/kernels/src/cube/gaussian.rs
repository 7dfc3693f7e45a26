//! The VAE's Gaussian code ([`crate::KernelBackend::gaussian_code`]) as CubeCL kernels, with
//! their launches. Forward: one unit per code element `[r, j]` computes both heads
//! ([`product_at`]), the draw and its KL term, and each cube sums its terms ([`cube_sum`]);
//! with more than one cube a second launch adds the parts (`sums::sum_parts`). Backward: the
//! five gradients in one launch, a unit per bias gradient and per block of eight weight or
//! feature gradients, each unit computing the gradient at the heads again from the heads the
//! forward kept ([`head_grad`]), once for its block.

use super::launch::{empty, grid};
use super::linear::product_at;
use super::sums::{SUM_UNITS, SplitSum, cube_sum, sum_cubes};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Cubes of `SUM_UNITS` units, one unit per element `[r, j]` of the contiguous `z` `[b, k]`:
/// `mu` and `logvar` ([`product_at`] of each head), written to `heads` (`[b, 2k]`, contiguous:
/// a row's means, then its log-variances), the draw `mu + exp(logvar / 2) eps`, and the
/// element's KL term `-(1 + logvar - mu^2 - exp(logvar)) / 2`, summed in the cube
/// ([`cube_sum`]) and divided by `div`, into `partial[cube]`.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the op's tensors, its outputs and the divisor"
)]
fn gaussian_kernel<F: Float>(
    h: &Tensor<F>,
    wmu: &Tensor<F>,
    bmu: &Tensor<F>,
    wlv: &Tensor<F>,
    blv: &Tensor<F>,
    eps: &Tensor<F>,
    z: &mut Tensor<F>,
    heads: &mut Tensor<F>,
    partial: &mut Tensor<F>,
    div: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    // Cubes past the last part (a grid of more than 65,535) leave, the whole cube at once.
    if cube >= partial.len() {
        terminate!();
    }
    let k = z.shape(1);
    let p = cube * SUM_UNITS + unit;
    let mut term = F::new(0.0);
    if p < z.len() {
        let (r, j) = (p / k, p % k);
        let mu = product_at(h, wmu, bmu, r, j);
        let lv = product_at(h, wlv, blv, r, j);
        let e = eps[r * eps.stride(0) + j * eps.stride(1)];
        z[p] = mu + (lv * F::new(0.5)).exp() * e;
        heads[r * 2 * k + j] = mu;
        heads[r * 2 * k + k + j] = lv;
        term = F::new(-0.5) * (F::new(1.0) + lv - mu * mu - lv.exp());
    }
    let total = cube_sum::<F>(term, unit);
    if unit == 0 {
        partial[cube] = total / F::cast_from(div);
    }
}

/// The gradient at the head `lv` (the log-variance's if true, else the mean's) of row `r`,
/// code element `j`: the draw's, from `z`'s gradient `gz` (`gz` for the mean, `gz eps
/// exp(logvar / 2) / 2` for the log-variance), plus `scale` (the KL's weight in the loss over
/// the rows) times the KL term's (`mu`; `(exp(logvar) - 1) / 2`).
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the position and the head"
)]
#[allow(
    unused_assignments,
    reason = "the cube macro needs the variable declared before the branches assign it"
)]
fn head_grad<F: Float>(
    gz: &Tensor<F>,
    heads: &Tensor<F>,
    eps: &Tensor<F>,
    scale: F,
    r: usize,
    j: usize,
    lv: bool,
) -> F {
    let k = gz.shape(1);
    let (hs0, hs1) = (heads.stride(0), heads.stride(1));
    let g = gz[r * gz.stride(0) + j * gz.stride(1)];
    let half = F::new(0.5);
    let mut out = F::new(0.0);
    if lv {
        let logvar = heads[r * hs0 + (k + j) * hs1];
        let e = eps[r * eps.stride(0) + j * eps.stride(1)];
        out = half * (g * e * (logvar * half).exp() + (logvar.exp() - F::new(1.0)) * scale);
    } else {
        out = g + heads[r * hs0 + j * hs1] * scale;
    }
    out
}

/// How many of the features one unit of [`gaussian_grads_kernel`] sums for (rows of a head's
/// weight, or columns of the features' gradient): each head's gradient at an element of the
/// code, an `exp` for the log-variance's, is worked out once for all of them.
const BLOCK: usize = 8;

/// With `nw` > 0 the first `nw = 2 (ceil(n / BLOCK) k + k)` units are the heads' weight and
/// bias gradients, the mean's head first: a unit per code element `j` and block of [`BLOCK`]
/// features `f` gives `gw[f, j]`, the sum over the rows of `h[r, f]` times
/// [`head_grad`]`(r, j)`; a unit per `j` gives `gb[j]`, the sum over the rows of
/// [`head_grad`]`(r, j)`. The next `nh` (0 when not wanted), a unit per row `r` and block of
/// [`BLOCK`] features, the features' `gh[r, f]`: the sum over `j` of each head's gradient
/// times its weight `[f, j]`. Every sum is added in order, as one unit per element would; a
/// block past the last feature reads the last one again and stores nothing for it.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the op's tensors, its gradients and the stretches"
)]
fn gaussian_grads_kernel<F: Float>(
    h: &Tensor<F>,
    wmu: &Tensor<F>,
    wlv: &Tensor<F>,
    heads: &Tensor<F>,
    eps: &Tensor<F>,
    gz: &Tensor<F>,
    kl_weight: &Tensor<F>,
    gwmu: &mut Tensor<F>,
    gbmu: &mut Tensor<F>,
    gwlv: &mut Tensor<F>,
    gblv: &mut Tensor<F>,
    gh: &mut Tensor<F>,
    nw: usize,
    nh: usize,
    #[define(F)] _dtype: ElemType,
) {
    let p = ABSOLUTE_POS;
    let (b, n, k) = (h.shape(0), h.shape(1), gz.shape(1));
    let blocks = n.div_ceil(BLOCK);
    let (hs0, hs1) = (h.stride(0), h.stride(1));
    // The KL term's factor: its weight in the loss over the rows it averages.
    let scale = kl_weight[0] / F::cast_from(b);
    let mut sums = Array::<F>::new(BLOCK);
    #[unroll]
    for e in 0..BLOCK {
        sums[e] = F::new(0.0);
    }
    if p < nw {
        let per = blocks * k + k;
        let lv = p >= per;
        let mut q = p;
        if lv {
            q = p - per;
        }
        if q < blocks * k {
            let (f0, j) = (q / k * BLOCK, q % k);
            for r in 0..b {
                let g = head_grad(gz, heads, eps, scale, r, j, lv);
                #[unroll]
                for e in 0..BLOCK {
                    sums[e] += h[r * hs0 + (f0 + e).min(n - 1) * hs1] * g;
                }
            }
            #[unroll]
            for e in 0..BLOCK {
                if f0 + e < n {
                    if lv {
                        gwlv[(f0 + e) * k + j] = sums[e];
                    } else {
                        gwmu[(f0 + e) * k + j] = sums[e];
                    }
                }
            }
        } else {
            let j = q - blocks * k;
            let mut sum = F::new(0.0);
            for r in 0..b {
                sum += head_grad(gz, heads, eps, scale, r, j, lv);
            }
            if lv {
                gblv[j] = sum;
            } else {
                gbmu[j] = sum;
            }
        }
    } else if p < nw + nh {
        let q = p - nw;
        let (r, f0) = (q / blocks, q % blocks * BLOCK);
        let (ms0, ms1) = (wmu.stride(0), wmu.stride(1));
        let (ls0, ls1) = (wlv.stride(0), wlv.stride(1));
        for j in 0..k {
            let gmu = head_grad(gz, heads, eps, scale, r, j, false);
            let glv = head_grad(gz, heads, eps, scale, r, j, true);
            #[unroll]
            for e in 0..BLOCK {
                let f = (f0 + e).min(n - 1);
                sums[e] += gmu * wmu[f * ms0 + j * ms1];
                sums[e] += glv * wlv[f * ls0 + j * ls1];
            }
        }
        #[unroll]
        for e in 0..BLOCK {
            if f0 + e < n {
                gh[r * n + f0 + e] = sums[e];
            }
        }
    }
}

/// `(z [b, k], heads [b, 2k], [1] KL)` from `h` `[b, n]`, the heads' weights `[n, k]` and
/// biases `[k]`, and `eps` `[b, k]`: one launch, and a second that adds the KL's parts where
/// the code has more than one cube's elements.
pub fn gaussian_code(
    [h, wmu, bmu, wlv, blv, eps]: [CubeTensor; 6],
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let b = h.shape()[0];
    let k = wmu.shape()[1];
    let z = empty(&h, Shape::new([b, k]));
    let heads = empty(&h, Shape::new([b, 2 * k]));
    let parts = (b * k).div_ceil(SUM_UNITS).max(1);
    let kl = SplitSum::new(&h, parts, b.max(1));
    let dtype = dtype_to_storage_type(h.dtype);
    let client = h.client.clone();
    gaussian_kernel::launch(
        &client,
        sum_cubes(parts),
        CubeDim::new_1d(SUM_UNITS as u32),
        h.into_tensor_arg(),
        wmu.into_tensor_arg(),
        bmu.into_tensor_arg(),
        wlv.into_tensor_arg(),
        blv.into_tensor_arg(),
        eps.into_tensor_arg(),
        z.clone().into_tensor_arg(),
        heads.clone().into_tensor_arg(),
        kl.target.clone().into_tensor_arg(),
        kl.div,
        dtype,
    );
    (z, heads, kl.finish())
}

/// The gradients of [`gaussian_code`], in one launch: the features' (shaped as `h`) if
/// `need_h`; the mean head's weight and bias and the log-variance head's if `need_w`; `None`
/// for those not wanted.
#[allow(
    clippy::type_complexity,
    reason = "the five gradients, each there only when asked for"
)]
pub fn gaussian_grads(
    [h, wmu, wlv, heads, eps, gz, kl_weight]: [CubeTensor; 7],
    need_h: bool,
    need_w: bool,
) -> (Option<CubeTensor>, Option<[CubeTensor; 4]>) {
    let [n, k] = wmu.shape().dims::<2>();
    // What is not wanted gets a one-element stand-in: every binding needs a buffer.
    let one = || empty(&h, Shape::new([1]));
    let gh = if need_h { empty(&h, h.shape()) } else { one() };
    let grads = if need_w {
        let (w, bias) = (Shape::new([n, k]), Shape::new([k]));
        [w.clone(), bias.clone(), w, bias].map(|s| empty(&h, s))
    } else {
        [one(), one(), one(), one()]
    };
    // A unit per code element and block of features (and per bias), per row and block.
    let blocks = n.div_ceil(BLOCK);
    let nw = if need_w { 2 * (blocks * k + k) } else { 0 };
    let nh = if need_h { h.shape()[0] * blocks } else { 0 };
    if nw + nh > 0 {
        let (count, dim) = grid(&h, nw + nh);
        let dtype = dtype_to_storage_type(h.dtype);
        let [gwmu, gbmu, gwlv, gblv] = grads.clone();
        gaussian_grads_kernel::launch(
            &h.client.clone(),
            count,
            dim,
            h.into_tensor_arg(),
            wmu.into_tensor_arg(),
            wlv.into_tensor_arg(),
            heads.into_tensor_arg(),
            eps.into_tensor_arg(),
            gz.into_tensor_arg(),
            kl_weight.into_tensor_arg(),
            gwmu.into_tensor_arg(),
            gbmu.into_tensor_arg(),
            gwlv.into_tensor_arg(),
            gblv.into_tensor_arg(),
            gh.clone().into_tensor_arg(),
            nw,
            nh,
            dtype,
        );
    }
    (need_h.then_some(gh), need_w.then_some(grads))
}
