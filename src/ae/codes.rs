//! Codes in files: `ae encode` writes a split's codes as CSV and `.npy` (with the labels), as
//! they are computed; `ae decode` reads codes back from either.

use super::npy::{self, Dtype};
use super::session::Session;
use super::{RunArgs, SplitArg};
use anyhow::{Context, Result, bail};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `ae encode`.
#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The split to encode.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Encode the first N samples only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Path prefix of the files: PREFIX.csv, PREFIX.npy, PREFIX-labels.npy
    /// [default: <run>/ae/codes-<split>].
    #[arg(long, value_name = "PREFIX")]
    pub out: Option<PathBuf>,
}

/// A file written under a temporary name and renamed into place by [`Pending::commit`]; dropped
/// uncommitted (on an error), it is removed.
struct Pending {
    tmp: PathBuf,
    path: PathBuf,
    file: Option<BufWriter<std::fs::File>>,
}

impl Pending {
    fn create(path: PathBuf) -> Result<Pending> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Pending {
            tmp,
            path,
            file: Some(BufWriter::new(file)),
        })
    }

    fn writer(&mut self) -> &mut BufWriter<std::fs::File> {
        self.file
            .as_mut()
            .expect("a pending file is open until committed")
    }

    fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("committed once");
        let file = file
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all().map(|()| f))
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes the codes of a split, batch by batch.
pub fn encode(a: &EncodeArgs) -> Result<()> {
    let s = Session::open(&a.run)?;
    let set = s.load(a.split.into(), a.limit)?;
    let k = s.cfg.network.code_dim();
    let n = set.len();
    let default = format!("codes-{}", a.split.as_str());
    let prefix = s.output(a.out.as_deref(), &default)?;
    let mut csv = Pending::create(with_suffix(&prefix, ".csv"))?;
    let mut codes = Pending::create(with_suffix(&prefix, ".npy"))?;
    let mut labels = Pending::create(with_suffix(&prefix, "-labels.npy"))?;
    let header: Vec<String> = (0..k).map(|j| format!("z{j}")).collect();
    writeln!(csv.writer(), "index,label,{}", header.join(","))?;
    npy::write_header(codes.writer(), Dtype::F32, &[n, k])?;
    npy::write_header(labels.writer(), Dtype::U8, &[n])?;
    let indices: Vec<usize> = (0..n).collect();
    s.encode_batches(&set, &indices, |chunk, batch| {
        let w = csv.writer();
        for (row, &i) in chunk.iter().enumerate() {
            write!(w, "{i},{}", set.label(i))?;
            for v in &batch[row * k..][..k] {
                write!(w, ",{v}")?;
            }
            writeln!(w)?;
        }
        npy::write_f32(codes.writer(), &batch)?;
        let l: Vec<u8> = chunk.iter().map(|&i| set.label(i)).collect();
        labels.writer().write_all(&l)?;
        Ok(())
    })?;
    let paths = [csv.path.clone(), codes.path.clone(), labels.path.clone()];
    csv.commit()?;
    codes.commit()?;
    labels.commit()?;
    println!(
        "wrote the {k}-number codes of {n} {} samples: {}, {}, {}",
        a.split.as_str(),
        paths[0].display(),
        paths[1].display(),
        paths[2].display()
    );
    Ok(())
}

/// Reads rows of `k`-number codes from a CSV or `.npy` file.
pub fn read_codes(path: &Path, k: usize) -> Result<Vec<f32>> {
    let source = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read codes file {source}"))?;
    let is_npy = path.extension().is_some_and(|e| e == "npy") || bytes.starts_with(b"\x93NUMPY");
    let (cols, values) = if is_npy {
        let a = npy::parse(&bytes, &source)?;
        (a.cols, a.values)
    } else {
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{source}: neither an .npy file nor text (CSV)"))?;
        parse_csv(&text, &source)?
    };
    if values.is_empty() {
        bail!("{source}: no codes in the file");
    }
    if cols != k {
        bail!("{source}: codes of {cols} numbers, the model's have {k}");
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        bail!("{source}: a code holds {v}; codes must be finite numbers");
    }
    Ok(values)
}

/// Parses CSV codes: every row numbers; or a header row, whose `z<j>` columns are the code
/// (all columns when none is named so). Blank lines and lines starting with `#` are skipped.
fn parse_csv(text: &str, source: &str) -> Result<(usize, Vec<f32>)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    let fields = |l: &str| {
        l.split(',')
            .map(|f| f.trim().to_string())
            .collect::<Vec<_>>()
    };
    let mut columns: Option<Vec<usize>> = None;
    if let Some((_, first)) = lines.peek() {
        let names = fields(first);
        if names.iter().any(|f| f.parse::<f32>().is_err()) {
            let z: Vec<usize> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    n.strip_prefix('z')
                        .is_some_and(|d| d.parse::<usize>().is_ok())
                })
                .map(|(i, _)| i)
                .collect();
            columns = Some(if z.is_empty() {
                (0..names.len()).collect()
            } else {
                z
            });
            lines.next();
        }
    }
    let mut width = None;
    let mut values = Vec::new();
    for (no, line) in lines {
        let row = fields(line);
        let picked: Vec<&String> = match &columns {
            Some(c) => c.iter().filter_map(|&i| row.get(i)).collect(),
            None => row.iter().collect(),
        };
        let w = *width.get_or_insert(picked.len());
        if picked.len() != w || columns.as_ref().is_some_and(|c| row.len() < c.len()) {
            bail!(
                "{source}, line {}: {} numbers where earlier rows have {w}",
                no + 1,
                picked.len()
            );
        }
        for f in picked {
            let v: f32 = f
                .parse()
                .with_context(|| format!("{source}, line {}: '{f}' is not a number", no + 1))?;
            values.push(v);
        }
    }
    Ok((width.unwrap_or(0), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_codes_with_and_without_headers() {
        let (k, v) = parse_csv("index,label,z0,z1\n0,7,0.5,-1\n1,2,2,3e-1\n", "c").unwrap();
        assert_eq!((k, v), (2, vec![0.5, -1.0, 2.0, 0.3]));
        let (k, v) = parse_csv("# mine\n1, 2, 3\n\n4,5,6\n", "c").unwrap();
        assert_eq!((k, v.len()), (3, 6));
        let err = parse_csv("1,2\n3\n", "c.csv").unwrap_err().to_string();
        assert_eq!(err, "c.csv, line 2: 1 numbers where earlier rows have 2");
        let err = parse_csv("a,b\n1,x\n", "c.csv").unwrap_err().to_string();
        assert!(err.contains("line 2: 'x' is not a number"), "{err}");
    }

    #[test]
    fn pending_files_appear_only_when_committed() {
        let dir = std::env::temp_dir().join(format!("ae-pending-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.csv");
        let mut p = Pending::create(path.clone()).unwrap();
        writeln!(p.writer(), "x").unwrap();
        assert!(!path.exists());
        p.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n");
        let mut dropped = Pending::create(dir.join("b.csv")).unwrap();
        writeln!(dropped.writer(), "y").unwrap();
        drop(dropped);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
