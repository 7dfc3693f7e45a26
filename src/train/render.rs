//! What the user sees while training.
//!
//! [`RunRenderer`] sits between the Learner and Burn's terminal dashboard: it passes everything
//! on to the dashboard (when there is one), takes the epoch averages of every metric into the
//! [`EpochLog`] (which writes `metrics.csv` after each epoch, so a crash loses nothing that was
//! done), and, when stdout is not a terminal, prints one quiet line per epoch instead of one
//! per batch.
//!
//! Why a renderer and not Burn's own hooks (checked against burn-train 0.22.1): a
//! `MetricLogger` (`SupervisedTraining::with_metric_logger`) is called from the event store's
//! worker thread (`EventStoreClient` spawns it and sends every event over a channel), so a row
//! of `metrics.csv` could land after the checkpoint of its epoch, or after the run has ended,
//! and the epoch line would race the row it prints. A `TrainingProgressLogger`
//! (`with_progress_logger`) is called in step with the renderer, but sees no metric values.
//! The renderer sees both, in order, and the Learner flushes it (not the event store) before it
//! checkpoints an epoch: the row of an epoch is in `metrics.csv` before its checkpoint is
//! written, which `--resume` relies on.

use crate::train::epoch_log::{EpochLog, EpochRow, epoch_line};
use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// The renderer handed to the Learner.
pub struct RunRenderer {
    inner: Option<Box<dyn MetricsRenderer>>,
    names: HashMap<MetricId, String>,
    log: EpochLog,
    csv_path: PathBuf,
    current: EpochRow,
    started: Instant,
    total_epochs: usize,
    /// Without the dashboard, a progress line redrawn on stderr when it is a terminal.
    progress: Option<SplitProgress>,
}

/// The split being run, for the progress line.
struct SplitProgress {
    split: String,
    total: usize,
    drawn: Instant,
}

impl RunRenderer {
    /// Forwards to `inner` (the dashboard) if given, else prints a line per epoch; writes the
    /// epoch averages to `csv_path` and into `log`.
    pub fn new(inner: Option<Box<dyn MetricsRenderer>>, csv_path: PathBuf, log: EpochLog) -> Self {
        RunRenderer {
            inner,
            names: HashMap::new(),
            log,
            csv_path,
            current: EpochRow::default(),
            started: Instant::now(),
            total_epochs: 0,
            progress: None,
        }
    }

    fn progress_line_wanted(&self) -> bool {
        self.inner.is_none() && std::io::stderr().is_terminal()
    }

    fn record(&mut self, state: &MetricState, train: bool) {
        if let MetricState::Numeric(entry, Some(NumericEntry::Final(v))) = state
            && let Some(name) = self.names.get(&entry.metric_id)
        {
            let map = if train {
                &mut self.current.train
            } else {
                &mut self.current.test
            };
            map.insert(name.clone(), *v);
        }
    }

    fn end_epoch(&mut self) {
        let mut row = std::mem::take(&mut self.current);
        row.seconds = self.started.elapsed().as_secs_f64();
        self.started = Instant::now();
        let row = self.log.push(row, &self.csv_path);
        if self.inner.is_none() {
            println!("{}", epoch_line(&row, self.total_epochs));
        }
    }
}

impl MetricsRendererTraining for RunRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(&state, true);
        if let Some(r) = &mut self.inner {
            r.update_train(state);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(&state, false);
        if let Some(r) = &mut self.inner {
            r.update_valid(state);
        }
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        match &mut self.inner {
            Some(r) => r.on_train_end(summary),
            None => Ok(()),
        }
    }
}

impl TrainingProgressLogger for RunRenderer {
    fn start(&mut self, total: usize, starting: usize, items: Option<usize>, label: Option<&str>) {
        self.total_epochs = total;
        self.started = Instant::now();
        if let Some(r) = &mut self.inner {
            r.start(total, starting, items, label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.end_epoch();
        if let Some(r) = &mut self.inner {
            r.update_epoch(epoch);
        }
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        if split == "valid" {
            self.current.train_seconds = self.started.elapsed().as_secs_f64();
        }
        if self.progress_line_wanted() {
            self.progress = Some(SplitProgress {
                split: if split == "valid" {
                    "test".into()
                } else {
                    split.to_string()
                },
                total: total_items,
                drawn: Instant::now(),
            });
        }
        if let Some(r) = &mut self.inner {
            r.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some(p) = &mut self.progress
            && p.drawn.elapsed().as_millis() >= 500
        {
            p.drawn = Instant::now();
            let pct = 100.0 * items_processed as f64 / p.total.max(1) as f64;
            eprint!(
                "\r  {} {pct:3.0}% ({items_processed}/{})  ",
                p.split, p.total
            );
        }
        if let Some(r) = &mut self.inner {
            r.update_split(items_processed);
        }
    }

    fn end_split(&mut self) {
        if self.progress.take().is_some() {
            eprint!("\r{:60}\r", "");
        }
        if let Some(r) = &mut self.inner {
            r.end_split();
        }
    }

    fn end(&mut self) {
        if let Some(r) = &mut self.inner {
            TrainingProgressLogger::end(r.as_mut());
        }
    }

    fn log_event_training(&mut self, event: String) {
        if let Some(r) = &mut self.inner {
            r.log_event_training(event);
        }
    }
}

impl EvaluationProgressLogger for RunRenderer {
    fn start_global_progress(&mut self, total_tests: usize) {
        if let Some(r) = &mut self.inner {
            r.start_global_progress(total_tests);
        }
    }

    fn start_test(&mut self, name: &str, total_items: usize) {
        if let Some(r) = &mut self.inner {
            r.start_test(name, total_items);
        }
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        if let Some(r) = &mut self.inner {
            r.update_test_progress(items_processed);
        }
    }

    fn end_test(&mut self) {
        if let Some(r) = &mut self.inner {
            r.end_test();
        }
    }

    fn end_global_progress(&mut self) {
        if let Some(r) = &mut self.inner {
            r.end_global_progress();
        }
    }

    fn log_event_evaluation(&mut self, event: String) {
        if let Some(r) = &mut self.inner {
            r.log_event_evaluation(event);
        }
    }
}

impl MetricsRendererEvaluation for RunRenderer {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        if let Some(r) = &mut self.inner {
            r.update_test(name, state);
        }
    }
}

impl MetricsRenderer for RunRenderer {
    fn manual_close(&mut self) {
        if let Some(r) = &mut self.inner {
            r.manual_close();
        }
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
        if let Some(r) = &mut self.inner {
            r.register_metric(definition);
        }
    }
}
