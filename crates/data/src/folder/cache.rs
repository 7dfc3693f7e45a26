//! The decoded-set cache: a key over the folder's files and the options that change pixels, and
//! a checksummed `.aeimg` file written atomically. A cache that is missing, short, corrupt or
//! disagrees with the request is ignored; one that cannot be written is not an error.
//!
//! Layout (integers little-endian): `AEIMG`, version u32, n u64, channels u64, rows u64, cols u64,
//! class count u32 and names, skipped count u32 and (path, reason) pairs (strings as u32 length
//! and UTF-8 bytes; paths relative to the folder), n labels, the pixels, then the SHA-256 of
//! everything before it.

use super::decode::MAX_SIDE;
use super::scan::Scan;
use super::{FolderOptions, Skipped};
use crate::dataset::ImageSet;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The file's first bytes.
const MAGIC: &[u8; 5] = b"AEIMG";
/// The layout's version; also hashed into the key.
const VERSION: u32 = 1;
/// The longest string (class name, path, reason) read back.
const MAX_STRING: u32 = 1 << 16;

/// What a cache file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cached {
    /// The decoded images and labels.
    pub images: ImageSet,
    /// The class names.
    pub classes: Vec<String>,
    /// The files skipped when the set was decoded.
    pub skipped: Vec<Skipped>,
}

/// The cache file for `scan` of `dir` under `opts`, in `cache_dir`.
pub(crate) fn file_for(
    cache_dir: &Path,
    dir: &Path,
    scan: &Scan,
    opts: &FolderOptions,
) -> io::Result<PathBuf> {
    let mut h = Sha256::new();
    let mut bytes = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    bytes(b"ae-data folder cache");
    bytes(&VERSION.to_le_bytes());
    bytes(fs::canonicalize(dir)?.as_os_str().as_encoded_bytes());
    for f in &scan.files {
        bytes(f.rel.as_os_str().as_encoded_bytes());
        bytes(&f.len.to_le_bytes());
        bytes(&f.mtime_ns.to_le_bytes());
    }
    bytes(b"unreadable");
    for u in &scan.unreadable {
        bytes(u.path.as_os_str().as_encoded_bytes());
    }
    let size = opts
        .image_size
        .map_or([0; 2], |(r, c)| [r as u64 + 1, c as u64 + 1]);
    bytes(&size[0].to_le_bytes());
    bytes(&size[1].to_le_bytes());
    bytes(&opts.channels.map_or(0, |c| c as u64 + 1).to_le_bytes());
    bytes(&[u8::from(opts.strict)]);
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(cache_dir.join(format!("{hex}.aeimg")))
}

/// Reads the cache at `path` for `dir`; `None` when it is absent, unreadable, corrupt, or its
/// classes or sizes disagree with `classes` and `opts`.
pub(crate) fn read(
    path: &Path,
    dir: &Path,
    classes: &[String],
    opts: &FolderOptions,
) -> Option<Cached> {
    let cached = read_file(path, dir).ok()?;
    let set = &cached.images;
    let sizes_agree = opts.channels.is_none_or(|c| c == set.channels)
        && opts.image_size.is_none_or(|s| s == (set.rows, set.cols));
    let labels_agree = if classes.is_empty() {
        set.labels.iter().all(|&l| l == 0)
    } else {
        set.labels.iter().all(|&l| usize::from(l) < classes.len())
    };
    (cached.classes == classes && sizes_agree && labels_agree).then_some(cached)
}

/// Parses a cache file, checking its layout, lengths and checksum.
fn read_file(path: &Path, dir: &Path) -> io::Result<Cached> {
    let file = fs::File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = Hashing::new(BufReader::new(file));
    let mut magic = [0u8; 5];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC || r.u32()? != VERSION {
        return Err(bad("not a cache file of this version"));
    }
    let n = r.u64()?;
    let (channels, rows, cols) = (r.u64()?, r.u64()?, r.u64()?);
    let side_ok = |s: u64| (1..=u64::from(MAX_SIDE)).contains(&s);
    if n == 0 || !(channels == 1 || channels == 3) || !side_ok(rows) || !side_ok(cols) {
        return Err(bad("bad sizes"));
    }
    let class_count = r.u32()?;
    if class_count > 256 {
        return Err(bad("too many classes"));
    }
    let classes = (0..class_count)
        .map(|_| r.read_string())
        .collect::<io::Result<Vec<_>>>()?;
    let skipped_count = r.u32()?;
    let mut skipped = Vec::new();
    for _ in 0..skipped_count {
        let path = dir.join(r.read_string()?);
        let reason = r.read_string()?;
        skipped.push(Skipped { path, reason });
    }
    // The rest must be exactly the labels, the pixels and the checksum.
    let body = n
        .checked_mul(channels * rows * cols)
        .and_then(|p| p.checked_add(n))
        .and_then(|b| b.checked_add(32));
    match (body, file_len.checked_sub(r.count)) {
        (Some(body), Some(rest)) if body == rest => {}
        _ => return Err(bad("wrong length")),
    }
    let mut labels = vec![0u8; usize::try_from(n).map_err(|_| bad("too large"))?];
    r.read_exact(&mut labels)?;
    let pixel_bytes = usize::try_from(n * channels * rows * cols).map_err(|_| bad("too large"))?;
    let mut pixels = vec![0u8; pixel_bytes];
    r.read_exact(&mut pixels)?;
    let digest = r.hasher.finalize();
    let mut stored = [0u8; 32];
    r.inner.read_exact(&mut stored)?;
    if digest.as_slice() != stored {
        return Err(bad("checksum mismatch"));
    }
    let images = ImageSet {
        channels: channels as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels,
        labels,
    };
    Ok(Cached {
        images,
        classes,
        skipped,
    })
}

/// Writes `cached` for `dir` to `path`: into a temporary file beside it, renamed into place.
pub(crate) fn write(path: &Path, dir: &Path, cached: &Cached) -> io::Result<()> {
    let folder = path.parent().ok_or_else(|| bad("no folder"))?;
    fs::create_dir_all(folder)?;
    let name = path.file_name().ok_or_else(|| bad("no file name"))?;
    // Unique per process and call, so that concurrent writers never share a temporary file.
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let temp = folder.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_file(&temp, dir, cached).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes the layout described at the top of this file to `path`.
fn write_file(path: &Path, dir: &Path, cached: &Cached) -> io::Result<()> {
    let set = &cached.images;
    let mut w = Hashing::new(BufWriter::new(fs::File::create(path)?));
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    for v in [set.len(), set.channels, set.rows, set.cols] {
        w.write_all(&(v as u64).to_le_bytes())?;
    }
    w.write_all(&(cached.classes.len() as u32).to_le_bytes())?;
    for class in &cached.classes {
        w.write_string(class)?;
    }
    w.write_all(&(cached.skipped.len() as u32).to_le_bytes())?;
    for s in &cached.skipped {
        let rel = s.path.strip_prefix(dir).unwrap_or(&s.path);
        w.write_string(rel.to_str().ok_or_else(|| bad("a path is not UTF-8"))?)?;
        w.write_string(&s.reason)?;
    }
    w.write_all(&set.labels)?;
    w.write_all(&set.pixels)?;
    let digest = w.hasher.finalize();
    let mut inner = w.inner;
    inner.write_all(&digest)?;
    inner.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// A malformed cache file.
fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("cache file: {what}"))
}

/// A reader or writer that hashes (and counts) the bytes passing through it.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    count: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: Read> Hashing<R> {
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_string(&mut self) -> io::Result<String> {
        let len = self.u32()?;
        if len > MAX_STRING {
            return Err(bad("string too long"));
        }
        let mut b = vec![0u8; len as usize];
        self.read_exact(&mut b)?;
        String::from_utf8(b).map_err(|_| bad("string not UTF-8"))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Hashing<W> {
    fn write_string(&mut self, s: &str) -> io::Result<()> {
        let len = u32::try_from(s.len())
            .ok()
            .filter(|&l| l <= MAX_STRING)
            .ok_or_else(|| bad("string too long"))?;
        self.write_all(&len.to_le_bytes())?;
        self.write_all(s.as_bytes())
    }
}
