//! What the user sees while training, and the per-epoch record it leaves behind.
//!
//! [`RunRenderer`] sits between the Learner and Burn's terminal dashboard: it passes everything
//! on to the dashboard (when there is one), takes the epoch averages of every metric, writes
//! them to `metrics.csv` after each epoch (so a crash loses nothing that was done), and, when
//! stdout is not a terminal, prints one quiet line per epoch instead of one per batch.

use crate::run_dir::write_atomic;
use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The averages of one epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpochRow {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Metric name -> average over the training set.
    pub train: BTreeMap<String, f64>,
    /// Metric name -> average over the test set.
    pub test: BTreeMap<String, f64>,
    /// Wall time of the epoch's training pass (batches, steps, updates), in seconds.
    pub train_seconds: f64,
    /// Wall time of the epoch (training and testing), in seconds.
    pub seconds: f64,
}

/// The epochs recorded so far, shared with the code that launched the training.
#[derive(Debug, Clone, Default)]
pub struct EpochLog(Arc<Mutex<LogState>>);

#[derive(Debug, Default)]
struct LogState {
    rows: Vec<EpochRow>,
    /// The epoch being run, 0 meaning 1 (a fresh log).
    next_epoch: usize,
    write_error: Option<String>,
}

impl EpochLog {
    /// A log that continues a run after `epochs` finished epochs, keeping their `rows`.
    pub fn continuing(rows: Vec<EpochRow>, epochs: usize) -> Self {
        let rows = rows.into_iter().filter(|r| r.epoch <= epochs).collect();
        EpochLog(Arc::new(Mutex::new(LogState {
            rows,
            next_epoch: epochs + 1,
            write_error: None,
        })))
    }

    /// The epoch being run (1-based).
    pub fn current_epoch(&self) -> usize {
        self.lock().next_epoch.max(1)
    }

    /// A copy of the rows so far.
    pub fn rows(&self) -> Vec<EpochRow> {
        self.lock().rows.clone()
    }

    /// The first error met while writing `metrics.csv`, if any.
    pub fn write_error(&self) -> Option<String> {
        self.lock().write_error.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Renders `rows` as CSV: `epoch,train_<metric>..,test_<metric>..,train_seconds,seconds`.
pub fn to_csv(rows: &[EpochRow]) -> String {
    let names: Vec<&String> = rows
        .first()
        .map(|r| r.train.keys().collect())
        .unwrap_or_default();
    let mut out = String::from("epoch");
    for split in ["train", "test"] {
        for n in &names {
            out.push_str(&format!(",{split}_{}", n.to_lowercase().replace(' ', "_")));
        }
    }
    out.push_str(",train_seconds,seconds\n");
    for r in rows {
        out.push_str(&r.epoch.to_string());
        for map in [&r.train, &r.test] {
            for n in &names {
                match map.get(*n) {
                    // Every digit: losses near 0 (easy data) keep their precision.
                    Some(v) => out.push_str(&format!(",{v}")),
                    None => out.push(','),
                }
            }
        }
        out.push_str(&format!(",{:.3},{:.3}\n", r.train_seconds, r.seconds));
    }
    out
}

/// Reads back what [`to_csv`] wrote; `names` are the metric names, as the Learner reports them,
/// that the lower-case column names stand for.
pub fn from_csv(text: &str, names: &[&str]) -> Result<Vec<EpochRow>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty")?.split(',').collect();
    let column = |split: &str, name: &str| {
        let col = format!("{split}_{}", name.to_lowercase().replace(' ', "_"));
        header.iter().position(|h| *h == col)
    };
    let seconds = header.iter().position(|h| *h == "seconds");
    let train_seconds = header.iter().position(|h| *h == "train_seconds");
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let number = |col: usize| -> Result<f64, String> {
            let cell = cells.get(col).ok_or(format!("line {}: too short", i + 2))?;
            cell.parse()
                .map_err(|_| format!("line {}: '{cell}' is not a number", i + 2))
        };
        let mut row = EpochRow {
            epoch: number(0)? as usize,
            seconds: seconds.map(number).transpose()?.unwrap_or(0.0),
            train_seconds: train_seconds.map(number).transpose()?.unwrap_or(0.0),
            ..EpochRow::default()
        };
        for name in names {
            for (split, map) in [("train", &mut row.train), ("test", &mut row.test)] {
                if let Some(col) = column(split, name) {
                    map.insert(name.to_string(), number(col)?);
                }
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

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
        let mut state = self.log.lock();
        row.epoch = state.next_epoch.max(1);
        state.next_epoch = row.epoch + 1;
        row.seconds = self.started.elapsed().as_secs_f64();
        self.started = Instant::now();
        if self.inner.is_none() {
            println!("{}", epoch_line(&row, self.total_epochs));
        }
        state.rows.push(row);
        if let Err(e) = write_atomic(&self.csv_path, to_csv(&state.rows).as_bytes())
            && state.write_error.is_none()
        {
            state.write_error = Some(format!("{e:#}"));
        }
    }
}

/// `epoch 3/10  train loss 0.1021  test loss 0.1003  (12.3 s)`, with any other terms after.
pub fn epoch_line(row: &EpochRow, total: usize) -> String {
    let mut line = format!("epoch {}/{total}", row.epoch);
    for (split, map) in [("train", &row.train), ("test", &row.test)] {
        if let Some(v) = map.get(crate::metrics::LOSS) {
            line.push_str(&format!("  {split} loss {v:.4}"));
        }
        for (k, v) in map.iter().filter(|(k, _)| *k != crate::metrics::LOSS) {
            line.push_str(&format!(" {} {v:.4}", k.to_lowercase()));
        }
    }
    line.push_str(&format!(
        "  ({:.1} s, training {:.1} s)",
        row.seconds, row.train_seconds
    ));
    line
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize, train: f64, test: f64) -> EpochRow {
        EpochRow {
            epoch,
            train: [("Loss".to_string(), train)].into(),
            test: [("Loss".to_string(), test)].into(),
            train_seconds: 1.25,
            seconds: 1.5,
        }
    }

    #[test]
    fn csv_and_lines_show_every_epoch() {
        let csv = to_csv(&[row(1, 0.2, 0.19), row(2, 0.1, 0.11)]);
        assert_eq!(
            csv,
            "epoch,train_loss,test_loss,train_seconds,seconds\n1,0.2,0.19,1.250,1.500\n\
             2,0.1,0.11,1.250,1.500\n"
        );
        assert_eq!(
            epoch_line(&row(2, 0.1, 0.11), 5),
            "epoch 2/5  train loss 0.1000  test loss 0.1100  (1.5 s, training 1.2 s)"
        );
        assert_eq!(
            from_csv(&csv, &["Loss"]),
            Ok(vec![row(1, 0.2, 0.19), row(2, 0.1, 0.11)])
        );
        assert!(from_csv("epoch,train_loss\n1,x\n", &["Loss"]).is_err());
    }

    #[test]
    fn a_continued_log_numbers_epochs_after_the_kept_ones() {
        let log = EpochLog::continuing(vec![row(1, 0.2, 0.19), row(2, 0.1, 0.11)], 1);
        assert_eq!((log.rows().len(), log.current_epoch()), (1, 2));
        assert_eq!(EpochLog::default().current_epoch(), 1);
    }
}
