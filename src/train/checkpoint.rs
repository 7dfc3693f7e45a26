//! The Learner's checkpoints (model, optimizer, learning-rate scheduler after each epoch), written
//! under a temporary name and renamed, and the search for the one a run resumes from.
//!
//! Burn's own `FileCheckpointer` writes straight to the final name, so a run killed while it
//! writes would leave a half-written `model-N.bpk` that the next `--resume` trips on.

use anyhow::{Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::OptimizerRecord;
use burn::optim::lr_scheduler::LrSchedulerRecord;
use burn::prelude::Tensor;
use burn::store::ModuleRecord;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The checkpoint folder inside a run folder.
const DIR: &str = crate::run_dir::CHECKPOINTS;

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

/// Checks that the optimizer record of `epoch` fits `model`: every state tensor belongs to one
/// of its parameters (by id) and has that parameter's shape, and every recorded rank is the
/// parameter's. Burn loads any readable record and panics on the first step when it does not
/// fit (a record copied from another run, or edited by hand).
pub fn check_optimizer_record<M: Module>(run: &Path, epoch: usize, model: &M) -> Result<()> {
    let file = path(&run.join(DIR), "optim", epoch);
    let shapes = param_shapes(model);
    let fail = |what: String| -> Result<()> {
        bail!(
            "{} does not fit the model: {what}; delete the run's checkpoint folder to start over",
            file.display()
        )
    };
    let reader = burn_pack::Reader::from_file(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    for (key, value) in reader.scalars() {
        let Some(id) = key.strip_suffix(".__rank") else {
            continue;
        };
        let Some(shape) = id.parse().ok().and_then(|id: u64| shapes.get(&id)) else {
            return fail(format!(
                "it holds state for {id}, which is no parameter of it"
            ));
        };
        if usize::try_from(*value).ok() != Some(shape.len()) {
            return fail(format!(
                "parameter {id} has rank {}, not {value:?}",
                shape.len()
            ));
        }
    }
    let tensors = reader
        .into_tensors()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    for t in tensors {
        let Some(shape) = t.param_id.and_then(|id| shapes.get(&id)) else {
            return fail(format!("{} belongs to no parameter of it", t.name));
        };
        if t.shape.as_slice() != shape.as_slice() {
            return fail(format!(
                "{} has shape {:?}, its parameter {:?}",
                t.name,
                t.shape.as_slice(),
                shape
            ));
        }
    }
    Ok(())
}

/// Each float parameter's shape, by parameter id.
fn param_shapes<M: Module>(model: &M) -> HashMap<u64, Vec<usize>> {
    struct Shapes(HashMap<u64, Vec<usize>>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.insert(param.id.val(), param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(HashMap::new());
    model.visit(&mut shapes);
    shapes.0
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
