//! The Learner's checkpoints (model, optimizer, learning-rate scheduler after each epoch), written
//! under a temporary name and renamed, and the search for the one a run resumes from.
//!
//! Burn's own `FileCheckpointer` writes straight to the final name, so a run killed while it
//! writes would leave a half-written `model-N.bpk` that the next `--resume` trips on.

use anyhow::{Result, bail};
use burn::optim::OptimizerRecord;
use burn::optim::lr_scheduler::LrSchedulerRecord;
use burn::store::ModuleRecord;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use std::path::{Path, PathBuf};

/// The checkpoint folder inside a run folder.
pub const DIR: &str = "checkpoint";

/// The three records of an epoch, by file-name prefix.
const PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// One kind of record (`model`, `optim` or `scheduler`), one file per epoch: `<name>-<epoch>.bpk`.
#[derive(Debug, Clone)]
pub struct AtomicCheckpointer {
    dir: PathBuf,
    name: &'static str,
}

impl AtomicCheckpointer {
    fn path(&self, epoch: usize) -> PathBuf {
        path(&self.dir, self.name, epoch)
    }
}

fn path(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.bpk"))
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        ae_data::source::write_atomic(&self.path(epoch), &bytes)
            .map_err(|e| CheckpointerError::IOError(std::io::Error::other(e.to_string())))
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        match std::fs::remove_file(self.path(epoch)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(CheckpointerError::IOError(e))
            }
            _ => Ok(()),
        }
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(self.path(epoch))
    }
}

/// The checkpointers of the model, the optimizer and the scheduler of the run in `run`.
pub fn checkpointers(run: &Path) -> [AtomicCheckpointer; 3] {
    let dir = run.join(DIR);
    PARTS.map(|name| AtomicCheckpointer {
        dir: dir.clone(),
        name,
    })
}

/// The last epoch of the run in `run` whose three records are all present and readable, if any.
pub fn latest(run: &Path) -> Option<usize> {
    let dir = run.join(DIR);
    let mut epochs: Vec<usize> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    epochs.into_iter().find(|&e| readable(&dir, e).is_ok())
}

/// Checks that the three records of `epoch` load.
fn readable(dir: &Path, epoch: usize) -> Result<()> {
    let p = |name| path(dir, name, epoch);
    let fail =
        |name, e: &dyn std::fmt::Display| -> Result<()> { bail!("{}: {e}", p(name).display()) };
    if let Err(e) = ModuleRecord::load(p("model")) {
        return fail("model", &e);
    }
    if let Err(e) = OptimizerRecord::load(p("optim")) {
        return fail("optim", &e);
    }
    if let Err(e) = LrSchedulerRecord::load(p("scheduler")) {
        return fail("scheduler", &e);
    }
    Ok(())
}

/// The model file of `epoch`'s checkpoint in the run folder `run`.
pub fn model_file(run: &Path, epoch: usize) -> PathBuf {
    path(&run.join(DIR), "model", epoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelName;
    use ae_models::Autoencoder;
    use burn::prelude::*;

    #[test]
    fn latest_skips_epochs_with_a_missing_or_broken_record() {
        let run = std::env::temp_dir().join(format!("ae-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        let [model, optim, scheduler] = checkpointers(&run);
        assert_eq!(latest(&run), None);
        let cfg = ModelName::DenseAe.default_config();
        let net =
            Autoencoder::new(&cfg.network, cfg.loss, cfg.sample_shape(), &Device::flex()).unwrap();
        let file = |name: &str, epoch: usize| run.join(DIR).join(format!("{name}-{epoch}.bpk"));
        for epoch in [1, 2, 3] {
            Checkpointer::save(&model, epoch, net.clone().into_record()).unwrap();
            Checkpointer::save(&scheduler, epoch, LrSchedulerRecord::new()).unwrap();
        }
        assert_eq!(latest(&run), None, "no optimizer record yet");
        for epoch in [1, 2, 3] {
            // The (empty) scheduler record stands in for an optimizer's: both are burnpack.
            std::fs::copy(file("scheduler", epoch), file("optim", epoch)).unwrap();
        }
        assert_eq!(latest(&run), Some(3));
        // No temporary files are left beside the records.
        let names: Vec<String> = std::fs::read_dir(run.join(DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".bpk")), "{names:?}");
        // Epoch 3's model record cut short: epoch 2 is the one to resume from.
        let bytes = std::fs::read(file("model", 3)).unwrap();
        std::fs::write(file("model", 3), &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(latest(&run), Some(2));
        Checkpointer::<LrSchedulerRecord>::delete(&optim, 2).unwrap();
        assert_eq!(latest(&run), Some(1));
        // Deleting what is not there is fine.
        Checkpointer::<LrSchedulerRecord>::delete(&optim, 2).unwrap();
        let _ = std::fs::remove_dir_all(&run);
    }
}
