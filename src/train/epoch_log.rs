//! The record a run leaves of its epochs: one [`EpochRow`] of averages per epoch, kept in an
//! [`EpochLog`] shared by the renderer (which fills it), the metrics (the NaN guard reads the
//! epoch) and `train` (which reports it), the `metrics.csv` format, and the epoch line.

use crate::run_dir::write_atomic;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The name of the total loss among the metrics (Burn's loss metric's).
pub const LOSS: &str = "Loss";

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

    /// Records `row` as the next epoch (numbering it), and rewrites `csv` with every row; the
    /// first write error is kept for [`EpochLog::write_error`]. Returns the numbered row.
    pub fn push(&self, mut row: EpochRow, csv: &Path) -> EpochRow {
        let mut state = self.lock();
        row.epoch = state.next_epoch.max(1);
        state.next_epoch = row.epoch + 1;
        state.rows.push(row.clone());
        if let Err(e) = write_atomic(csv, to_csv(&state.rows).as_bytes())
            && state.write_error.is_none()
        {
            state.write_error = Some(format!("{e:#}"));
        }
        row
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

/// `epoch 3/10  train loss 0.1021  test loss 0.1003  (12.3 s)`, with any other terms after.
pub fn epoch_line(row: &EpochRow, total: usize) -> String {
    let mut line = format!("epoch {}/{total}", row.epoch);
    for (split, map) in [("train", &row.train), ("test", &row.test)] {
        if let Some(v) = map.get(LOSS) {
            line.push_str(&format!("  {split} loss {v:.4}"));
        }
        for (k, v) in map.iter().filter(|(k, _)| *k != LOSS) {
            line.push_str(&format!(" {} {v:.4}", k.to_lowercase()));
        }
    }
    line.push_str(&format!(
        "  ({:.1} s, training {:.1} s)",
        row.seconds, row.train_seconds
    ));
    line
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
