//! Continuing a run (`--resume`): where it stopped, and what to say when it cannot go on.

use super::checkpoint;
use super::epoch_log::{EpochLog, LOSS, from_csv};
use crate::config::RunConfig;
use crate::run_dir::{self, RunDir};
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// Opens the run in `out` to continue it: the epochs finished (0 when none was), and the
/// log of those epochs read back from `metrics.csv`.
pub fn resume_point(cfg: &RunConfig, out: &Path) -> Result<(RunDir, usize, EpochLog)> {
    let run = RunDir::reopen(out)?;
    let done = checkpoint::latest(&run.path).unwrap_or(0);
    if done > cfg.epochs {
        bail!(
            "the run in {} has finished {done} epochs, more than --epochs {}; pass --epochs \
             {done} or more",
            out.display(),
            cfg.epochs
        );
    }
    if done == cfg.epochs && weights_are_newer(&run, done) {
        bail!(
            "the run in {} has finished all its {done} epochs; pass --epochs N (more than \
             {done}) to train it further",
            out.display()
        );
    }
    let rows = match std::fs::read_to_string(run.file(run_dir::METRICS)) {
        Ok(text) => {
            let mut names = vec![LOSS];
            names.extend(cfg.network.term_names());
            from_csv(&text, &names)
                .map_err(|e| anyhow::anyhow!("{}: {e}", run.file(run_dir::METRICS).display()))?
        }
        Err(_) => Vec::new(),
    };
    if done == 0 {
        eprintln!(
            "resume: no epoch of the run in {} had finished; starting it again from epoch 1",
            out.display()
        );
    } else {
        eprintln!(
            "resume: continuing the run in {} after epoch {done} of {}",
            out.display(),
            cfg.epochs
        );
    }
    Ok((run, done, EpochLog::continuing(rows, done)))
}

/// Whether the run's final weights were saved after its checkpoint of `epoch` (else they are
/// left from an earlier, shorter run in the same folder).
fn weights_are_newer(run: &RunDir, epoch: usize) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(run.file(run_dir::WEIGHTS)),
        modified(checkpoint::model_file(&run.path, epoch)),
    ) {
        (Some(weights), Some(ckpt)) => weights >= ckpt,
        (weights, _) => weights.is_some(),
    }
}

/// Where the last good weights of a stopped run are, and how to go on from them.
pub fn last_good(cfg: &RunConfig, run: &RunDir) -> String {
    match checkpoint::latest(&run.path) {
        Some(epoch) => format!(
            "the weights of epoch {epoch}, the last good ones, are in {}; `train {} --resume \
             --out {} --lr <smaller>` continues from them",
            checkpoint::model_file(&run.path, epoch).display(),
            cfg.model,
            run.path.display()
        ),
        None => "no epoch had finished, so no weights were kept; try a smaller --lr".into(),
    }
}
