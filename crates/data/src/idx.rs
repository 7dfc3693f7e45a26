//! A strict reader for IDX files (the MNIST format), raw or gzip-compressed.
//!
//! Layout: `0x00 0x00 <type> <rank>`, then `rank` big-endian `u32` dimensions, then the
//! elements. Only unsigned bytes (type `0x08`) are accepted: MNIST and Fashion-MNIST use nothing
//! else. Every defect is reported, never skipped: short headers, bad magic, overflowing
//! dimensions, missing or extra bytes.

use crate::error::{DataError, IdxDefect};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// The IDX type code of unsigned bytes.
const TYPE_U8: u8 = 0x08;
/// Refuse to inflate beyond this (a gzip bomb would otherwise fill memory).
const MAX_INFLATED: u64 = 1 << 31;

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (`[count, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// The elements in row-major order.
    pub data: Vec<u8>,
}

/// Parses IDX bytes that must have rank `rank`. `path` only names the file in errors.
pub fn parse(bytes: &[u8], rank: u8, path: &Path) -> Result<IdxArray, DataError> {
    parse_inner(bytes, rank).map_err(|defect| DataError::Idx {
        path: path.to_path_buf(),
        defect,
    })
}

fn parse_inner(bytes: &[u8], rank: u8) -> Result<IdxArray, IdxDefect> {
    if bytes.is_empty() {
        return Err(IdxDefect::Empty);
    }
    if bytes.len() < 4 {
        return Err(IdxDefect::TruncatedHeader {
            needed: 4,
            found: bytes.len(),
        });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(IdxDefect::BadMagic(magic));
    }
    if bytes[2] != TYPE_U8 {
        return Err(IdxDefect::UnsupportedType(bytes[2]));
    }
    if bytes[3] != rank {
        return Err(IdxDefect::WrongRank {
            expected: rank,
            found: bytes[3],
        });
    }
    let header = 4 + 4 * rank as usize;
    if bytes.len() < header {
        return Err(IdxDefect::TruncatedHeader {
            needed: header,
            found: bytes.len(),
        });
    }
    let raw_dims: Vec<u32> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let total = raw_dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .filter(|&t| t <= isize::MAX as usize - header)
        .ok_or_else(|| IdxDefect::BadDims(raw_dims.clone()))?;
    // Inner dimensions of zero make no sense for images or labels; an empty set (count 0) is
    // refused by the data set loader, not here.
    if raw_dims.iter().skip(1).any(|&d| d == 0) {
        return Err(IdxDefect::BadDims(raw_dims));
    }
    let body = &bytes[header..];
    if body.len() < total {
        return Err(IdxDefect::TruncatedData {
            expected: total,
            found: body.len(),
        });
    }
    if body.len() > total {
        return Err(IdxDefect::TrailingBytes(body.len() - total));
    }
    Ok(IdxArray {
        dims: raw_dims.into_iter().map(|d| d as usize).collect(),
        data: body.to_vec(),
    })
}

/// Reads a file whole, inflating it when it is gzip (detected by its first two bytes, not its
/// name).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(DataError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let raw = std::fs::read(path).map_err(io)?;
    inflate_if_gz(raw, path)
}

/// Inflates `raw` when it starts with the gzip magic; returns it unchanged otherwise.
pub fn inflate_if_gz(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    MultiGzDecoder::new(raw.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| DataError::Gzip {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(DataError::Gzip {
            path: path.to_path_buf(),
            detail: format!("inflates to more than {MAX_INFLATED} bytes"),
        });
    }
    Ok(out)
}

/// Reads and parses an IDX file of rank `rank`, raw or gzip.
pub fn read(path: &Path, rank: u8) -> Result<IdxArray, DataError> {
    parse(&read_maybe_gz(path)?, rank, path)
}

/// Runs arbitrary bytes through the reader as the fuzzer does, and returns whether they parsed.
/// The first byte picks the rank (1 when even, 3 when odd); the rest is a file, raw or gzip.
/// Panics if a parsed array breaks the format's promises: the rank asked for, exactly the
/// elements its dimensions hold, and re-encoding to the same bytes. Used by `fuzz/` and by the
/// corpus regression test, so both check the same thing.
#[doc(hidden)]
pub fn check_any_input(input: &[u8]) -> bool {
    let Some((&selector, bytes)) = input.split_first() else {
        return false;
    };
    let rank = if selector & 1 == 0 { 1 } else { 3 };
    let path = Path::new("fuzz.idx");
    let Ok(bytes) = inflate_if_gz(bytes.to_vec(), path) else {
        return false;
    };
    let Ok(array) = parse(&bytes, rank, path) else {
        return false;
    };
    assert_eq!(array.dims.len(), usize::from(rank));
    assert_eq!(array.dims.iter().product::<usize>(), array.data.len());
    let dims: Vec<u32> = array.dims.iter().map(|&d| d as u32).collect();
    assert_eq!(encode(&dims, &array.data), bytes);
    true
}

/// Encodes an IDX array of unsigned bytes (for tests and for writing small sets).
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn p() -> PathBuf {
        PathBuf::from("t.idx")
    }

    fn defect(bytes: &[u8], rank: u8) -> IdxDefect {
        match parse(bytes, rank, &p()) {
            Err(DataError::Idx { defect, path }) => {
                assert_eq!(path, p());
                defect
            }
            other => panic!("expected an IDX defect, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_good_image_file() {
        let data: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
        let arr = parse(&encode(&[2, 3, 4], &data), 3, &p()).unwrap();
        assert_eq!(arr.dims, vec![2, 3, 4]);
        assert_eq!(arr.data, data);
    }

    #[test]
    fn every_defect_is_named() {
        assert_eq!(defect(&[], 1), IdxDefect::Empty);
        assert_eq!(
            defect(&[0, 0, 8], 1),
            IdxDefect::TruncatedHeader {
                needed: 4,
                found: 3
            }
        );
        assert_eq!(
            defect(&[1, 2, 8, 1, 0, 0, 0, 0], 1),
            IdxDefect::BadMagic(0x0102_0801)
        );
        assert_eq!(
            defect(&[0, 0, 0x0d, 1, 0, 0, 0, 0], 1),
            IdxDefect::UnsupportedType(0x0d)
        );
        assert_eq!(
            defect(&encode(&[1, 1], &[0]), 3),
            IdxDefect::WrongRank {
                expected: 3,
                found: 2
            }
        );
        assert_eq!(
            defect(&[0, 0, 8, 3, 0, 0, 0, 1, 0, 0], 3),
            IdxDefect::TruncatedHeader {
                needed: 16,
                found: 10
            }
        );
        assert_eq!(
            defect(&encode(&[u32::MAX, u32::MAX, u32::MAX], &[]), 3),
            IdxDefect::BadDims(vec![u32::MAX; 3])
        );
        assert_eq!(
            defect(&encode(&[2, 0, 28], &[]), 3),
            IdxDefect::BadDims(vec![2, 0, 28])
        );
        assert_eq!(
            defect(&encode(&[2, 2, 2], &[0; 7]), 3),
            IdxDefect::TruncatedData {
                expected: 8,
                found: 7
            }
        );
        assert_eq!(
            defect(&encode(&[3], &[0; 5]), 1),
            IdxDefect::TrailingBytes(2)
        );
    }

    #[test]
    fn gzip_is_detected_by_content_and_corruption_is_reported() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let raw = encode(&[2], &[7, 9]);
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(inflate_if_gz(gz.clone(), &p()).unwrap(), raw);
        let mut broken = gz[..gz.len() / 2].to_vec();
        broken.extend_from_slice(&[0xff; 8]);
        let err = inflate_if_gz(broken, &p()).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(err.to_string().starts_with("t.idx: corrupt gzip"), "{err}");
    }

    #[test]
    fn a_directory_or_missing_file_is_a_clear_error() {
        let dir = std::env::temp_dir();
        let err = read(&dir, 1).unwrap_err();
        assert!(matches!(err, DataError::NotAFile { .. }), "{err}");
        let err = read(&dir.join("no-such-file-ae-data"), 1).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
