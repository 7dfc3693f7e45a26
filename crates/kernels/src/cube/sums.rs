//! Sums on the GPU (wgpu, and CUDA where built), shared by the kernels that reduce: the sum
//! over a cube's units ([`cube_sum`], [`cube_sums`]), a convolution's weight and bias shares
//! ([`store_sums`], [`GradSums`]), one value over many cubes ([`SplitSum`]) and the second
//! launch of a sum split over cubes ([`sum_parts`]), always added in the same order.

use super::launch::empty;
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Units per cube of the kernels that sum in a cube ([`cube_sum`]): 2^8, the tree halves it
/// eight times.
pub(super) const SUM_UNITS: usize = 256;
const _: () = assert!(SUM_UNITS == 1 << 8);

/// How many terms one cube of a long sum takes, at most: 16 per unit. A sum longer than this
/// is split over several cubes, whose parts [`sum_parts`] adds in a second launch: a GPU
/// runs a cube on one of its many multiprocessors, so one cube for a sum over a whole batch
/// leaves the rest idle (a dense-ae step's loss at batch 1024, a convolution's weight
/// gradients over 1024 images of 28x28). A sum this short or shorter stays one cube, one launch.
pub(super) const SPAN: usize = SUM_UNITS * 16;

/// The sum of `value` over the `SUM_UNITS` units of the cube (`unit` is this unit's
/// position), for every unit: [`cube_sums`] of one value. Every unit of the cube must call
/// it: it waits at barriers.
#[cube]
pub(super) fn cube_sum<F: Float>(value: F, unit: usize) -> F {
    let mut values = Array::<F>::new(1usize);
    values[0] = value;
    cube_sums::<F>(&mut values, unit, 1usize);
    values[0]
}

/// The sums of `values[0..count]` over the `SUM_UNITS` units of the cube (`unit` is this
/// unit's position), back into `values`, for every unit: each value's terms are added pairwise
/// in shared memory, halving eight times, always in the same order (the order of
/// [`cube_sum`]), all `count` values at each halving, so the cube waits at nine barriers
/// however many values it sums, not nine per value. Every unit of the cube must call it.
#[cube]
pub(super) fn cube_sums<F: Float>(values: &mut Array<F>, unit: usize, #[comptime] count: usize) {
    let mut partial = Shared::<[F]>::new_slice(SUM_UNITS * count);
    #[unroll]
    for v in 0..count {
        partial[v * SUM_UNITS + unit] = values[v];
    }
    sync_cube();
    // Halves: 128, 64, ..., 1.
    #[unroll]
    for level in 1..9usize {
        let half = SUM_UNITS >> level;
        if unit < half {
            #[unroll]
            for v in 0..count {
                let at = v * SUM_UNITS + unit;
                let other = partial[at + half];
                partial[at] += other;
            }
        }
        sync_cube();
    }
    #[unroll]
    for v in 0..count {
        values[v] = partial[v * SUM_UNITS];
    }
}

/// Cube `s * parts + k`'s share of a convolution's weight or bias gradient, from this unit's
/// `shares`: for a pair of channels (`s` below `pairs`, `gw.len() / 9`) its nine taps, for a
/// bias (`s - pairs`) `shares[0]`, added over the cube's units ([`cube_sums`]) and written by
/// unit 0: with one part into `gw` or `gb`, with more into `partial` (value `v`'s part `k` at
/// `v * parts + k`, the weights' values first, then the biases'), which [`sum_parts`] adds.
/// Every unit of the cube must call it: it waits at barriers.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the shares, which sum and part, and the three places a sum may go"
)]
pub(super) fn store_sums<F: Float>(
    shares: &mut Array<F>,
    s: usize,
    k: usize,
    parts: usize,
    unit: usize,
    gw: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    partial: &mut Tensor<F>,
) {
    let pairs = gw.len() / 9;
    if s < pairs {
        cube_sums::<F>(shares, unit, 9usize);
        if unit == 0 {
            #[unroll]
            for tap in 0..9usize {
                if parts == 1 {
                    gw[s * 9 + tap] = shares[tap];
                } else {
                    partial[(s * 9 + tap) * parts + k] = shares[tap];
                }
            }
        }
    } else {
        cube_sums::<F>(shares, unit, 1usize);
        if unit == 0 {
            if parts == 1 {
                gb[s - pairs] = shares[0];
            } else {
                partial[(pairs * 9 + s - pairs) * parts + k] = shares[0];
            }
        }
    }
}

/// One cube per value `v` of `first` and then of `second` (`second`'s `v - first.len()`): the
/// sum of its `parts` parts (at `v * parts ..`, each the sum of one stretch of the terms, in
/// order), divided by `div`. The units take every `SUM_UNITS`-th part, then [`cube_sum`]: the
/// same order every time.
#[cube(launch)]
fn sum_parts_kernel<F: Float>(
    partial: &Tensor<F>,
    first: &mut Tensor<F>,
    second: &mut Tensor<F>,
    values: usize,
    parts: usize,
    div: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let v = CUBE_POS;
    // A grid of more than 65,535 cubes has a few past the last value (the whole cube leaves).
    if v >= values {
        terminate!();
    }
    let mut sum = F::new(0.0);
    for k in range_stepped(unit, parts, SUM_UNITS) {
        sum += partial[v * parts + k];
    }
    let total = cube_sum::<F>(sum, unit);
    if unit == 0 {
        let value = total / F::cast_from(div);
        if v < first.len() {
            first[v] = value;
        } else {
            second[v - first.len()] = value;
        }
    }
}

/// The second launch of a split sum: `values` sums of `parts` parts each (`partial`, value by
/// value), divided by `div`, into `first` and then `second` (a stand-in when `values` is
/// `first`'s length).
pub(super) fn sum_parts(
    partial: CubeTensor,
    first: CubeTensor,
    second: CubeTensor,
    values: usize,
    parts: usize,
    div: usize,
) {
    if values == 0 {
        return;
    }
    let dtype = dtype_to_storage_type(partial.dtype);
    sum_parts_kernel::launch(
        &partial.client.clone(),
        sum_cubes(values),
        CubeDim::new_1d(SUM_UNITS as u32),
        partial.into_tensor_arg(),
        first.into_tensor_arg(),
        second.into_tensor_arg(),
        values,
        parts,
        div,
        dtype,
    );
}

/// The buffers and counts of a convolution's gradient kernel (the 3x3 convolution's and the
/// transposed one's): the input's gradient, shaped as `x`, where `need_x`; the weight's, shaped
/// as `weight` (nine taps for each pair of channels), and the `o` biases', where `need_w`; each
/// a one-element stand-in where not wanted (every binding needs a buffer). The weight and bias
/// sums run over `positions`, split into `parts` of `span` (at most [`SPAN`]) where longer;
/// `partial` holds the parts ([`store_sums`]) and [`Self::finish`] adds them.
pub(super) struct GradSums {
    pub gx: CubeTensor,
    pub gw: CubeTensor,
    pub gb: CubeTensor,
    pub partial: CubeTensor,
    /// The sums: one per pair of channels and per bias, 0 where `need_w` is not set.
    pub sums: usize,
    pub parts: usize,
    pub span: usize,
    values: usize,
    need_x: bool,
    need_w: bool,
}

impl GradSums {
    pub(super) fn new(
        x: &CubeTensor,
        weight: &CubeTensor,
        o: usize,
        positions: usize,
        need_x: bool,
        need_w: bool,
    ) -> Self {
        let one = || empty(x, Shape::new([1]));
        let gx = if need_x { empty(x, x.shape()) } else { one() };
        let (gw, gb) = if need_w {
            (empty(x, weight.shape()), empty(x, Shape::new([o])))
        } else {
            (one(), one())
        };
        let pairs = weight.shape().num_elements() / 9;
        let parts = if need_w {
            positions.div_ceil(SPAN).max(1)
        } else {
            1
        };
        let values = pairs * 9 + o;
        let partial = if parts > 1 {
            empty(x, Shape::new([values * parts]))
        } else {
            one()
        };
        GradSums {
            gx,
            gw,
            gb,
            partial,
            sums: if need_w { pairs + o } else { 0 },
            parts,
            span: positions.div_ceil(parts),
            values,
            need_x,
            need_w,
        }
    }

    /// The kernel's cubes: the sums' parts, then `nx` units of the input gradient.
    pub(super) fn cubes(&self, nx: usize) -> usize {
        self.sums * self.parts + nx.div_ceil(SUM_UNITS)
    }

    /// After the kernel ran: the parts added where there are several; the gradients asked for.
    #[allow(
        clippy::type_complexity,
        reason = "the three gradients, each there only when asked for"
    )]
    pub(super) fn finish(self) -> (Option<CubeTensor>, Option<(CubeTensor, CubeTensor)>) {
        if self.need_w && self.parts > 1 {
            sum_parts(
                self.partial,
                self.gw.clone(),
                self.gb.clone(),
                self.values,
                self.parts,
                1,
            );
        }
        (
            self.need_x.then_some(self.gx),
            self.need_w.then_some((self.gw, self.gb)),
        )
    }
}

/// One value (`[1]`) that a kernel sums in `parts` cubes and divides by `div`: with one part
/// the kernel writes the value itself, dividing in the kernel ([`Self::target`],
/// [`Self::div`]); with more each cube writes its part's sum to a buffer, and
/// [`Self::finish`] adds the parts and divides in a second launch ([`sum_parts`]).
pub(super) struct SplitSum {
    /// The value, `[1]`.
    value: CubeTensor,
    /// Where the kernel writes: the value, or the parts.
    pub target: CubeTensor,
    /// What the kernel divides each cube's sum by: `div` with one part, else 1.
    pub div: usize,
    parts: usize,
    total_div: usize,
}

impl SplitSum {
    /// The value of a sum in `parts` cubes (at least 1) divided by `div`, beside `like`.
    pub(super) fn new(like: &CubeTensor, parts: usize, div: usize) -> Self {
        let parts = parts.max(1);
        let value = empty(like, Shape::new([1]));
        let (target, in_kernel) = if parts == 1 {
            (value.clone(), div)
        } else {
            (empty(like, Shape::new([parts])), 1)
        };
        SplitSum {
            value,
            target,
            div: in_kernel,
            parts,
            total_div: div,
        }
    }

    /// The value, after the kernel ran: the parts added where there are several.
    pub(super) fn finish(self) -> CubeTensor {
        if self.parts > 1 {
            let stand_in = empty(&self.value, Shape::new([1]));
            let value = self.value.clone();
            sum_parts(self.target, value, stand_in, 1, self.parts, self.total_div);
        }
        self.value
    }
}

/// At least `cubes` cubes of a kernel that reads its flat position (`CUBE_POS`): at most
/// 65,535 along one axis, the rest along the next, so that past 65,535 the last row may hold
/// cubes beyond `cubes`, which the kernel must leave idle.
pub(super) fn sum_cubes(cubes: usize) -> CubeCount {
    let across = cubes.clamp(1, 65_535);
    CubeCount::Static(across as u32, cubes.div_ceil(across) as u32, 1)
}
