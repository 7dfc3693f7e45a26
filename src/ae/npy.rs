//! NumPy's `.npy` format (version 1.0), enough to hand codes to other tools and read them
//! back: little-endian `f4`/`f8`/`u1` arrays in C order, written as they are produced.

use anyhow::{Context, Result, bail};
use std::io::Write;

/// Element types written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `<f4`.
    F32,
    /// `<f8` (read only).
    F64,
    /// `|u1`.
    U8,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
            Dtype::U8 => "|u1",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::U8 => 1,
        }
    }
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The header of an array of `dtype` and `shape`, padded so the data starts on a 64-byte line.
pub fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        dtype.descr()
    );
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes the header of an array, then its values as they come.
pub fn write_header(w: &mut impl Write, dtype: Dtype, shape: &[usize]) -> Result<()> {
    w.write_all(&header(dtype, shape))
        .context("cannot write an .npy header")
}

/// Appends `f32` values.
pub fn write_f32(w: &mut impl Write, values: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.write_all(&bytes).context("cannot write .npy data")
}

/// A 2-D array read back, as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Array2 {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row-major values.
    pub values: Vec<f32>,
}

fn field<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let start = dict.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = dict[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// Parses an `.npy` file holding a 1-D or 2-D `f4`, `f8` or `u1` array (1-D reads as one row).
pub fn parse(bytes: &[u8], source: &str) -> Result<Array2> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        bail!("{source}: not an .npy file (no \\x93NUMPY magic)");
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("{source}: .npy version {v} is not supported"),
    };
    let dict = bytes
        .get(start..start.saturating_add(len))
        .and_then(|h| std::str::from_utf8(h).ok())
        .with_context(|| format!("{source}: the .npy header is cut short or not text"))?;
    let descr = field(dict, "descr").unwrap_or("").trim_matches(['\'', '"']);
    let dtype = [Dtype::F32, Dtype::F64, Dtype::U8]
        .into_iter()
        .find(|d| d.descr() == descr || (descr == "<u1" && *d == Dtype::U8))
        .with_context(|| {
            format!("{source}: element type '{descr}' is not supported (float32, float64, uint8)")
        })?;
    if field(dict, "fortran_order") != Some("False") {
        bail!("{source}: Fortran-ordered arrays are not supported (save with C order)");
    }
    let shape_text = field(dict, "shape").with_context(|| format!("{source}: no shape"))?;
    let shape: Vec<usize> = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{source}: bad shape {shape_text}"))?;
    let (rows, cols) = match shape[..] {
        [n] => (1, n),
        [r, c] => (r, c),
        _ => bail!(
            "{source}: a {}-D array; codes are 2-D (rows of codes)",
            shape.len()
        ),
    };
    let data = &bytes[start + len..];
    let count = rows
        .checked_mul(cols)
        .filter(|n| n.checked_mul(dtype.size()) == Some(data.len()))
        .with_context(|| {
            format!(
                "{source}: shape {shape_text} needs {} bytes of data, the file has {}",
                rows.saturating_mul(cols).saturating_mul(dtype.size()),
                data.len()
            )
        })?;
    let values = match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        Dtype::U8 => data.iter().map(|&b| f32::from(b)).collect(),
    };
    debug_assert_eq!(count, rows * cols);
    Ok(Array2 { rows, cols, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_align_and_round_trip() {
        let mut bytes = header(Dtype::F32, &[2, 3]);
        assert_eq!(bytes.len() % 64, 0);
        assert!(String::from_utf8_lossy(&bytes).contains("'shape': (2, 3)"));
        write_f32(&mut bytes, &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        let a = parse(&bytes, "t").unwrap();
        assert_eq!((a.rows, a.cols), (2, 3));
        assert_eq!(a.values[5], -6.5);
        let labels = header(Dtype::U8, &[4]);
        assert!(String::from_utf8_lossy(&labels).contains("'shape': (4,)"));
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        assert!(
            parse(b"hello", "x.npy")
                .unwrap_err()
                .to_string()
                .contains("not an .npy")
        );
        let mut short = header(Dtype::F32, &[2, 3]);
        write_f32(&mut short, &[1.0]).unwrap();
        let err = parse(&short, "x.npy").unwrap_err().to_string();
        assert!(err.contains("needs 24 bytes"), "{err}");
        let mut i8s = header(Dtype::F32, &[1]);
        let at = i8s.windows(3).position(|w| w == b"<f4").unwrap();
        i8s[at..at + 3].copy_from_slice(b"<i8");
        let err = parse(&i8s, "x.npy").unwrap_err().to_string();
        assert!(err.contains("'<i8' is not supported"), "{err}");
    }
}
