//! The flags of `--dataset folder`: from `--data-dir`, `--image-size`, `--channels`,
//! `--test-fraction` and `--strict` to a run config's folder settings, the folder decoded once to
//! learn what its images are.

use crate::config::{DatasetArg, RunConfig};
use crate::input::folder::{self, FolderRequest};
use crate::train::cli::TrainArgs;
use crate::train::overrides::fit_inputs;
use anyhow::{Result, bail};

impl TrainArgs {
    /// The folder-only flags given.
    fn folder_flags(&self) -> Vec<&'static str> {
        [
            (self.image_size.is_some(), "--image-size"),
            (self.channels.is_some(), "--channels"),
            (self.test_fraction.is_some(), "--test-fraction"),
            (self.strict, "--strict"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect()
    }

    /// Refuses folder-only flags on a run that does not switch to `--dataset folder`.
    pub(super) fn refuse_folder_flags(&self) -> Result<()> {
        if let Some(flag) = self.folder_flags().first() {
            bail!("{flag} applies to --dataset folder (with --data-dir DIR, the folder of images)");
        }
        Ok(())
    }

    /// `--dataset folder`: decodes the folder (or finds it in the cache), records what its
    /// images are, and fits the network to them.
    pub(super) fn apply_folder(&self, cfg: &mut RunConfig) -> Result<()> {
        let Some(dir) = &self.data_dir else {
            bail!("--dataset folder needs --data-dir DIR, the folder of your PNG and JPEG images");
        };
        let channels = match self.channels {
            None => None,
            Some(c @ (1 | 3)) => Some(usize::from(c)),
            Some(c) => bail!("--channels {c}: 1 (grey) or 3 (colour)"),
        };
        let request = FolderRequest {
            dir: dir.clone(),
            image_size: self
                .image_size
                .as_deref()
                .map(folder::parse_image_size)
                .transpose()?,
            channels,
            test_fraction: self
                .test_fraction
                .unwrap_or(ae_data::folder::DEFAULT_TEST_FRACTION),
            strict: self.strict,
        };
        cfg.folder = Some(folder::resolve(&request)?);
        cfg.dataset = DatasetArg::Folder;
        fit_inputs(cfg, self.latent_dim.is_some());
        Ok(())
    }
}
