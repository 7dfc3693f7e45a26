//! What a network holds, counted from its config before any of it exists, so that a size the
//! machine cannot hold is refused with a figure instead of an abort in the allocator.
//!
//! Counts are numbers (not bytes), as `f64`: sizes a user types can overflow any integer, and
//! an estimate needs no more than three significant digits.

use std::ops::Add;

/// The numbers a network holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Footprint {
    /// Trainable parameters.
    pub params: f64,
    /// Numbers one sample's forward pass produces: every layer's output.
    pub activations: f64,
    /// The largest single parameter tensor.
    pub largest_param: f64,
    /// The largest single layer output of one sample.
    pub largest_activation: f64,
}

impl Footprint {
    /// A linear layer `inputs -> outputs` (weights and bias).
    pub fn linear(inputs: usize, outputs: usize) -> Self {
        let (i, o) = (inputs as f64, outputs as f64);
        Footprint {
            params: i * o + o,
            activations: o,
            largest_param: i * o,
            largest_activation: o,
        }
    }

    /// Linear layers through `widths` (as [`crate::mlp::Mlp`] builds them).
    pub fn mlp(widths: &[usize]) -> Self {
        widths
            .windows(2)
            .map(|w| Footprint::linear(w[0], w[1]))
            .fold(Footprint::default(), Add::add)
    }

    /// A `k x k` convolution `c_in -> c_out` channels whose output is `side` (`[height, width]`).
    pub fn conv(c_in: usize, c_out: usize, k: usize, side: [usize; 2]) -> Self {
        let (ci, co, k) = (c_in as f64, c_out as f64, k as f64);
        let area = side[0] as f64 * side[1] as f64;
        Footprint {
            params: k * k * ci * co + co,
            activations: co * area,
            largest_param: k * k * ci * co,
            largest_activation: co * area,
        }
    }

    /// A layer without parameters (pooling, upsampling) giving `numbers` per sample.
    pub fn reshaping(numbers: usize) -> Self {
        Footprint {
            activations: numbers as f64,
            largest_activation: numbers as f64,
            ..Footprint::default()
        }
    }
}

impl Add for Footprint {
    type Output = Footprint;

    fn add(self, o: Footprint) -> Footprint {
        Footprint {
            params: self.params + o.params,
            activations: self.activations + o.activations,
            largest_param: self.largest_param.max(o.largest_param),
            largest_activation: self.largest_activation.max(o.largest_activation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_counted_as_burn_builds_them() {
        // 784-32-784: 784 * 32 + 32 and 32 * 784 + 784 parameters.
        let f = Footprint::mlp(&[784, 32, 784]);
        assert_eq!(f.params, 50_992.0);
        assert_eq!(f.activations, 816.0);
        assert_eq!(f.largest_param, 25_088.0);
        assert_eq!(f.largest_activation, 784.0);
        let c = Footprint::conv(1, 16, 3, [28, 28]) + Footprint::reshaping(16 * 14 * 14);
        assert_eq!(c.params, 160.0);
        assert_eq!(c.activations, 16.0 * 784.0 + 16.0 * 196.0);
        // Sizes beyond any integer type are still counted.
        assert!(Footprint::linear(usize::MAX, usize::MAX).params > 1e38);
    }
}
