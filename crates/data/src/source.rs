//! Where data set files come from, in order: an explicit folder, `$AE_DATA_DIR/<dataset>/`, the
//! user cache, the system folder, else a download from the public mirror into the cache.

use crate::dataset::{DatasetName, FileSpec, file_in};
use crate::error::DataError;
use crate::idx::inflate_if_gz;
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable naming a folder that holds one sub-folder per data set.
pub const ENV_DATA_DIR: &str = "AE_DATA_DIR";
/// The variable that replaces the public mirrors by `<url>/<dataset>/<file>.gz` (tests, proxies).
pub const ENV_MIRROR: &str = "AE_DATA_MIRROR";
/// The system folder Debian's `dataset-fashion-mnist` package installs into.
pub const SYSTEM_DIR: &str = "/usr/share/datasets";
/// No data set file is larger than this compressed.
const MAX_DOWNLOAD: u64 = 256 << 20;

/// The places to look for a data set, built from flags and the environment.
#[derive(Debug, Clone)]
pub struct Sources {
    /// `--data-dir`: a folder holding the files, or holding `<dataset>/` with them.
    pub data_dir: Option<PathBuf>,
    /// `$AE_DATA_DIR`: a folder holding `<dataset>/`.
    pub env_dir: Option<PathBuf>,
    /// The user cache folder (`~/.cache/autoencoders`); downloads go there.
    pub cache_dir: Option<PathBuf>,
    /// The system folder holding `<dataset>/`.
    pub system_dir: PathBuf,
    /// A replacement for the public mirrors.
    pub mirror: Option<String>,
    /// Whether a download may be tried when no copy is found.
    pub download: bool,
}

impl Sources {
    /// The usual sources: `data_dir` from the command line, the rest from the environment.
    pub fn from_env(data_dir: Option<PathBuf>) -> Self {
        let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Sources {
            data_dir,
            env_dir: nonempty(ENV_DATA_DIR).map(PathBuf::from),
            cache_dir: dirs::cache_dir().map(|d| d.join("autoencoders")),
            system_dir: PathBuf::from(SYSTEM_DIR),
            mirror: nonempty(ENV_MIRROR).and_then(|v| v.into_string().ok()),
            download: true,
        }
    }

    /// The folder that holds all four files of `dataset`, downloading them if needed.
    pub fn locate(&self, dataset: DatasetName) -> Result<PathBuf, DataError> {
        let files = dataset.files();
        let complete = |dir: &Path| files.iter().all(|f| file_in(dir, f).is_some());
        if let Some(dir) = &self.data_dir {
            for cand in [dir.join(dataset.as_str()), dir.clone()] {
                if complete(&cand) {
                    return Ok(cand);
                }
            }
            return Err(DataError::NotFound(format!(
                "--data-dir {}: no {dataset} files there or in {}/ (need {})",
                dir.display(),
                dir.join(dataset.as_str()).display(),
                file_list(&files)
            )));
        }
        let candidates = [
            self.env_dir.as_ref(),
            self.cache_dir.as_ref(),
            Some(&self.system_dir),
        ];
        for dir in candidates.into_iter().flatten() {
            let cand = dir.join(dataset.as_str());
            if complete(&cand) {
                return Ok(cand);
            }
        }
        let download_error = match (&self.cache_dir, self.download) {
            (Some(cache), true) => {
                let dest = cache.join(dataset.as_str());
                let base = match &self.mirror {
                    Some(m) => format!("{}/{}/", m.trim_end_matches('/'), dataset),
                    None => dataset.mirror().to_string(),
                };
                match download_all(&base, &files, &dest) {
                    Ok(()) => return Ok(dest),
                    Err(e) => e.to_string(),
                }
            }
            (None, _) => "no user cache folder to download into".to_string(),
            (_, false) => "downloads are turned off".to_string(),
        };
        Err(DataError::NotFound(format!(
            "no copy of {dataset} found (looked in {}) and {download_error}; provide the files \
             ({}) with --data-dir DIR, or ${ENV_DATA_DIR}=DIR holding {dataset}/, or copy them \
             into the cache folder, or install them under {}/{dataset}/",
            self.looked_in(dataset),
            file_list(&files),
            self.system_dir.display()
        )))
    }

    fn looked_in(&self, dataset: DatasetName) -> String {
        let show = |d: Option<&PathBuf>, what: &str| match d {
            Some(d) => d.join(dataset.as_str()).display().to_string(),
            None => format!("{what} (unset)"),
        };
        [
            show(self.env_dir.as_ref(), &format!("${ENV_DATA_DIR}")),
            show(self.cache_dir.as_ref(), "the cache folder"),
            show(Some(&self.system_dir), ""),
        ]
        .join(", ")
    }
}

fn file_list(files: &[FileSpec]) -> String {
    files
        .iter()
        .map(|f| format!("{}.gz", f.stem))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Downloads every file of `files` missing from `dest` from `base` (a URL ending in `/`).
fn download_all(base: &str, files: &[FileSpec], dest: &Path) -> Result<(), DataError> {
    for spec in files {
        if file_in(dest, spec).is_none() {
            let url = format!("{base}{}.gz", spec.stem);
            download(&url, spec.sha256, &dest.join(format!("{}.gz", spec.stem)))?;
        }
    }
    Ok(())
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Downloads `url` to `dest`, accepting it only if its decompressed content has SHA-256
/// `sha256`. The file is written under a temporary name and renamed: `dest` either does not
/// exist afterwards or holds the verified file.
pub fn download(url: &str, sha256: &str, dest: &Path) -> Result<(), DataError> {
    let fail = |detail: String| DataError::Download {
        url: url.to_string(),
        detail,
    };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build(),
    );
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let total = response.body().content_length();
    if let Some(n) = total.filter(|&n| n > MAX_DOWNLOAD) {
        return Err(fail(format!(
            "the server announces {n} bytes, more than the {} MiB any data set file here has",
            MAX_DOWNLOAD >> 20
        )));
    }
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(MAX_DOWNLOAD)
        .reader();
    let mut progress = Progress::new(url, total);
    let mut body = Vec::with_capacity(total.unwrap_or(1 << 20).min(MAX_DOWNLOAD) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        progress.update(body.len() as u64);
    }
    progress.finish();
    let content = inflate_if_gz(body.clone(), Path::new(url))?;
    let actual = sha256_hex(&content);
    if actual != sha256 {
        return Err(DataError::Checksum {
            url: url.to_string(),
            expected: sha256.to_string(),
            actual,
        });
    }
    write_atomic(dest, &body)
}

/// Writes `bytes` to a temporary file beside `dest`, then renames it to `dest`.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let io = |source| DataError::Write {
        path: dest.to_path_buf(),
        source,
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dest.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, dest));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// A progress line on stderr: redrawn in place on a terminal, two plain lines otherwise.
struct Progress {
    tty: bool,
    total: Option<u64>,
    shown: u64,
}

impl Progress {
    fn new(url: &str, total: Option<u64>) -> Self {
        eprintln!("downloading {url}");
        Progress {
            tty: std::io::stderr().is_terminal(),
            total,
            shown: 0,
        }
    }

    fn update(&mut self, done: u64) {
        if !self.tty || done < self.shown + (1 << 20) {
            return;
        }
        self.shown = done;
        let mb = |b: u64| b as f64 / 1e6;
        match self.total {
            Some(t) if t > 0 => eprint!(
                "\r  {:6.1} / {:.1} MB ({:3.0}%)",
                mb(done),
                mb(t),
                100.0 * done as f64 / t as f64
            ),
            _ => eprint!("\r  {:6.1} MB", mb(done)),
        }
    }

    fn finish(&self) {
        if self.tty && self.shown > 0 {
            eprintln!();
        }
    }
}
