//! Dashboard metrics: one numeric metric per loss term (the total, the reconstruction, any
//! regulariser), averaged over the epoch weighted by batch size, shown with four decimals; and
//! the guard that stops a run whose loss stops being a finite number.

use crate::train::epoch_log::{EpochLog, LOSS};
use ae_models::AeOutput;
use burn::tensor::TensorReadError;
use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricDefinition, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};
use std::sync::{Arc, Mutex};

/// What a term metric reads from a step's output: every term's value by name, as read back
/// once for the step (`None` when the step's output was not read back).
pub struct TermsInput {
    terms: Option<Vec<(&'static str, f64)>>,
    batch_size: usize,
}

impl Adaptor<TermsInput> for AeOutput {
    fn adapt(&self) -> TermsInput {
        // The Learner reads every step's output back (`sync`) before it updates the metrics.
        let names = std::iter::once(LOSS).chain(self.loss.terms.iter().map(|(n, _)| *n));
        let terms = (self.values.len() == 1 + self.loss.terms.len()).then(|| {
            let mut terms: Vec<_> = names.zip(self.values.iter().copied()).collect();
            // A loss made of one term only repeats the total: show it once.
            if terms.len() == 2 {
                terms.truncate(1);
            }
            terms
        });
        TermsInput {
            terms,
            batch_size: self.batch_size,
        }
    }
}

/// Stops the run at the first loss that is NaN or infinite, and remembers where it was.
#[derive(Clone)]
pub struct NonFiniteGuard {
    interrupter: Interrupter,
    epochs: EpochLog,
    steps_per_epoch: usize,
    found: Arc<Mutex<Option<String>>>,
}

impl NonFiniteGuard {
    /// Stops through `interrupter`; the epoch comes from `epochs` (the one being run is the
    /// one after the last recorded), the step from the Learner's iteration count.
    pub fn new(interrupter: Interrupter, epochs: EpochLog, steps_per_epoch: usize) -> Self {
        NonFiniteGuard {
            interrupter,
            epochs,
            steps_per_epoch,
            found: Arc::new(Mutex::new(None)),
        }
    }

    /// Where the loss first stopped being finite: `NaN at epoch 3, step 17 of 235`.
    pub fn found(&self) -> Option<String> {
        self.found.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn check(&self, value: f64, training: bool, step: Option<usize>) {
        if value.is_finite() {
            return;
        }
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        if found.is_some() {
            return;
        }
        let epoch = self.epochs.current_epoch();
        let step = step.map_or("?".to_string(), |s| s.to_string());
        let place = if training {
            format!("epoch {epoch}, step {step} of {}", self.steps_per_epoch)
        } else {
            format!("epoch {epoch}, while testing (test batch {step})")
        };
        let what = if value.is_nan() { "NaN" } else { "infinite" };
        let message = format!("the loss became {what} at {place}");
        self.interrupter.stop(Some(&message));
        *found = Some(message);
    }
}

/// The epoch average of one named loss term.
#[derive(Clone)]
pub struct TermMetric {
    name: MetricName,
    term: &'static str,
    state: NumericMetricState,
    guard: Option<(NonFiniteGuard, bool)>,
}

impl TermMetric {
    /// Follows the term called `term` (or the total loss, for [`LOSS`]).
    pub fn new(term: &'static str) -> Self {
        TermMetric {
            name: Arc::new(term.to_string()),
            term,
            state: NumericMetricState::default(),
            guard: None,
        }
    }

    /// Also stops the run through `guard` when a value is not finite; `training` says which
    /// split this metric follows.
    pub fn guarded(mut self, guard: NonFiniteGuard, training: bool) -> Self {
        self.guard = Some((guard, training));
        self
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
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let Some(terms) = &input.terms else {
            // Not read back: say so rather than count a made-up value.
            return Err(TensorReadError::InvalidShape {
                expected: 1,
                actual: 0,
            });
        };
        if let Some(&(_, value)) = terms.iter().find(|(n, _)| *n == self.term) {
            if let Some((guard, training)) = &self.guard {
                guard.check(value, *training, metadata.iteration);
            }
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

/// Keeps none of Burn's per-batch metric logs.
pub struct NoMetricLog;

impl MetricLogger for NoMetricLog {
    fn log(&mut self, _: MetricsUpdate, _: usize, _: &Split) {}

    fn read_numeric(&mut self, _: &str, _: usize, _: &Split) -> Result<Vec<NumericEntry>, String> {
        Err("metrics are not logged per batch; see metrics.csv".into())
    }

    fn log_metric_definition(&mut self, _: MetricDefinition) {}

    fn log_epoch_summary(&mut self, _: EpochSummary) {}
}
