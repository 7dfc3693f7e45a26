//! Dashboard metrics: one numeric metric per loss term (the total, the reconstruction, any
//! regulariser), averaged over the epoch weighted by batch size, shown with four decimals.

use ae_models::AeOutput;
use burn::prelude::*;
use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};
use std::sync::Arc;

/// The name of the metric that follows the total loss.
pub const LOSS: &str = "Loss";

/// What a term metric reads from a step's output: every term by name.
pub struct TermsInput {
    terms: Vec<(&'static str, Tensor<1>)>,
    batch_size: usize,
}

impl Adaptor<TermsInput> for AeOutput {
    fn adapt(&self) -> TermsInput {
        let mut terms = vec![(LOSS, self.loss.total.clone())];
        // A loss made of one term only repeats the total: show it once.
        if self.loss.terms.len() > 1 {
            terms.extend(self.loss.terms.iter().cloned());
        }
        TermsInput {
            terms,
            batch_size: self.batch_size,
        }
    }
}

/// The epoch average of one named loss term.
#[derive(Clone)]
pub struct TermMetric {
    name: MetricName,
    term: &'static str,
    state: NumericMetricState,
}

impl TermMetric {
    /// Follows the term called `term` (or the total loss, for [`LOSS`]).
    pub fn new(term: &'static str) -> Self {
        TermMetric {
            name: Arc::new(term.to_string()),
            term,
            state: NumericMetricState::default(),
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name.clone()).precision(4)
    }
}

impl Metric for TermMetric {
    type Input = TermsInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        input: &TermsInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        if let Some((_, t)) = input.terms.iter().find(|(n, _)| *n == self.term) {
            let value = t.clone().try_into_scalar::<f64>()?;
            // The loss is a per-image mean: weight each batch by its number of images.
            self.state.update(value, input.batch_size.max(1));
        }
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

impl Numeric for TermMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
