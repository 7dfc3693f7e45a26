//! The operations a training step hands Burn's fusion server (wgpu, CUDA), counted by kind
//! with burn-fusion's observer. Each one costs the server's thread its bookkeeping, launch or
//! not (a reshape, a tensor dropped, one of our ops), so on a fast GPU their number sets the
//! floor under a step, as launches do.

use burn::backend::fusion::observer::{BlockOperations, FusionObservation, FusionObserver};
use burn::backend::ir::OperationIr;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts every operation the fusion server registers while it lives, by [`kind`].
pub struct OpCounter {
    counts: Arc<Counts>,
    _observation: FusionObservation,
}

#[derive(Default)]
struct Counts(Mutex<BTreeMap<String, usize>>);

impl FusionObserver for Counts {
    fn registered(&self, operation: &OperationIr) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(kind(operation)).or_default() += 1;
    }

    fn block_starts(&self, _block: BlockOperations<'_>) {}

    fn block_ran(&self) {}
}

impl OpCounter {
    /// Starts counting. The server hears of an operation after it was recorded, so read the
    /// loss (which waits for what came before) before starting and before [`Self::finish`].
    pub fn start() -> Self {
        let counts = Arc::new(Counts::default());
        let _observation = FusionObservation::new(counts.clone());
        OpCounter {
            counts,
            _observation,
        }
    }

    /// Stops counting: each kind and how many of it, the most frequent first.
    pub fn finish(self) -> Vec<(String, usize)> {
        let counts = self.counts.clone();
        drop(self);
        let counts = counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, usize)> = counts.iter().map(|(k, &n)| (k.clone(), n)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// An operation's kind in words: its variant and the operation inside (`BaseFloat Reshape`,
/// `NumericFloat Add`), a custom op's id (`Custom conv3x3`), `Drop` for a tensor dropped.
pub fn kind(operation: &OperationIr) -> String {
    if let OperationIr::Custom(custom) = operation {
        return format!("Custom {}", custom.id);
    }
    let text = head(operation);
    let outer: String = text.chars().take_while(|c| c.is_alphanumeric()).collect();
    if matches!(operation, OperationIr::Drop(_)) {
        return outer;
    }
    // The first name inside that opens a parenthesis: the operation (a dtype, the first
    // argument of some variants, is followed by a comma).
    let mut name = String::new();
    for c in text[outer.len()..].chars().skip(1) {
        match c {
            c if c.is_alphanumeric() || c == '_' => name.push(c),
            '(' if !name.is_empty() => return format!("{outer} {name}"),
            _ => name.clear(),
        }
    }
    outer
}

/// The start of `operation`'s `Debug` text, up to its first `{` (where the tensors' ids and
/// shapes begin) or 80 bytes: the observer runs on the fusion server's thread for every
/// operation, so the rest is not written at all (the writer refuses it, which stops `Debug`).
fn head(operation: &OperationIr) -> String {
    struct Head(String);
    impl Write for Head {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for c in s.chars() {
                if c == '{' || self.0.len() >= 80 {
                    return Err(std::fmt::Error);
                }
                self.0.push(c);
            }
            Ok(())
        }
    }
    let mut head = Head(String::new());
    // The error is the writer's own stop.
    let _ = write!(head, "{operation:?}");
    head.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::ir::{
        BaseOperationIr, BinaryOpIr, CustomOpIr, NumericOperationIr, ShapeOpIr, TensorId, TensorIr,
    };
    use burn::tensor::{DType, Shape};

    #[test]
    fn kinds_name_the_operation_inside() {
        let t = |id| TensorIr::uninit(TensorId::new(id), Shape::new([2, 3]), DType::F32);
        assert_eq!(kind(&OperationIr::Drop(t(1))), "Drop");
        let custom = OperationIr::Custom(CustomOpIr::new("conv3x3", &[t(1)], &[t(2)]));
        assert_eq!(kind(&custom), "Custom conv3x3");
        let reshape = OperationIr::BaseFloat(BaseOperationIr::Reshape(ShapeOpIr {
            input: t(1),
            out: t(2),
        }));
        assert_eq!(kind(&reshape), "BaseFloat Reshape");
        // The dtype before the operation is skipped.
        let add = OperationIr::NumericFloat(
            DType::F32,
            NumericOperationIr::Add(BinaryOpIr {
                lhs: t(1),
                rhs: t(2),
                out: t(3),
            }),
        );
        assert_eq!(kind(&add), "NumericFloat Add");
    }
}
