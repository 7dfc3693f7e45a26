//! Pictures: grids of grey or colour images, upscaled so a person can see them, written as PNG.

use crate::run_dir::write_atomic;
use anyhow::{Context, Result, bail};
use burn::prelude::*;
use image::{ImageFormat, Rgb, RgbImage};
use std::io::Cursor;
use std::path::Path;

/// Pixels between tiles.
const GAP: u32 = 2;
/// Grey of the gaps (mid grey, so black and white images both stand out).
const GAP_SHADE: u8 = 128;

/// The most pixels a picture may have: 500 million (half a gigabyte of grey, 1.5 of colour), ten
/// times the largest grid a default command draws many times over.
pub const MAX_PIXELS: f64 = 5e8;

/// Checks, before anything is decoded or drawn, that `tiles` tiles of `tile` (`[channels,
/// height, width]`) at `scale`, `cols` to a row, make a picture of at most [`MAX_PIXELS`].
pub fn check_size(tiles: usize, tile: [usize; 3], cols: usize, scale: u32) -> Result<()> {
    let tile = [tile[1], tile[2]];
    let cols = cols.clamp(1, tiles.max(1));
    let rows = tiles.div_ceil(cols);
    let side = |n: usize, t: usize| {
        n as f64 * (t as f64 * f64::from(scale)) + (n + 1) as f64 * f64::from(GAP)
    };
    let (width, height) = (side(cols, tile[1]), side(rows, tile[0]));
    if width * height > MAX_PIXELS {
        bail!(
            "a picture of {tiles} images would be {width:.0} x {height:.0} pixels, more than \
             the {:.0} million a picture may have; ask for fewer images",
            MAX_PIXELS / 1e6
        );
    }
    Ok(())
}

/// A grid of equally sized tiles, grey (one channel) or colour (three), row after row.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Tile channels, height and width in source pixels.
    pub tile: [usize; 3],
    /// Tiles per row.
    pub cols: usize,
    /// Each tile's pixels in [0, 1], channel after channel, each row-major; an empty tile is
    /// left blank.
    pub tiles: Vec<Vec<f32>>,
    /// Screen pixels per source pixel.
    pub scale: u32,
}

impl Grid {
    /// A grid of the images in `t` (`[n, c, h, w]`), `cols` to a row.
    pub fn from_tensor(t: Tensor<4>, cols: usize, scale: u32) -> Result<Grid> {
        let [_, c, h, w] = t.dims();
        let data = crate::backend::read_f32(t, "images")?;
        Ok(Grid::from_pixels(&data, [c, h, w], cols, scale))
    }

    /// A grid of the `tile`-sized images (`[channels, height, width]`) in `pixels`, one after
    /// another, `cols` to a row.
    pub fn from_pixels(pixels: &[f32], tile: [usize; 3], cols: usize, scale: u32) -> Grid {
        let tiles = pixels
            .chunks_exact(tile.iter().product::<usize>().max(1))
            .map(<[f32]>::to_vec)
            .collect();
        Grid {
            tile,
            cols,
            tiles,
            scale,
        }
    }

    /// Draws the grid (grey tiles as equal red, green and blue).
    pub fn render(&self) -> Result<RgbImage> {
        if self.cols == 0 || self.tiles.is_empty() {
            bail!("a picture needs at least one image");
        }
        check_size(self.tiles.len(), self.tile, self.cols, self.scale)?;
        let rows = self.tiles.len().div_ceil(self.cols) as u32;
        let cols = self.cols.min(self.tiles.len()) as u32;
        let [channels, h, w] = self.tile;
        let plane = h * w;
        let [th, tw] = [h as u32 * self.scale, w as u32 * self.scale];
        let width = cols * tw + (cols + 1) * GAP;
        let height = rows * th + (rows + 1) * GAP;
        let mut img = RgbImage::from_pixel(width, height, Rgb([GAP_SHADE; 3]));
        let shade = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for (k, tile) in self.tiles.iter().enumerate() {
            if tile.is_empty() {
                continue;
            }
            let (r, c) = ((k / self.cols) as u32, (k % self.cols) as u32);
            let (x0, y0) = (GAP + c * (tw + GAP), GAP + r * (th + GAP));
            for y in 0..th {
                for x in 0..tw {
                    let src = (y / self.scale) as usize * w + (x / self.scale) as usize;
                    // Grey: channel 0 three times; colour: channels 0, 1, 2.
                    let at = |ch: usize| {
                        let ch = if channels == 3 { ch } else { 0 };
                        shade(tile.get(ch * plane + src).copied().unwrap_or(0.0))
                    };
                    img.put_pixel(x0 + x, y0 + y, Rgb([at(0), at(1), at(2)]));
                }
            }
        }
        Ok(img)
    }

    /// Draws the grid and writes it as PNG (atomically): grey when the tiles have one channel,
    /// else colour.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let img = self.render()?;
        let mut bytes = Vec::new();
        let written = if self.tile[0] == 3 {
            img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        } else {
            image::DynamicImage::ImageRgb8(img)
                .into_luma8()
                .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        };
        written.with_context(|| format!("cannot encode {}", path.display()))?;
        write_atomic(path, &bytes)
    }
}

/// Interleaves rows of `cols` originals with rows of their reconstructions.
pub fn pairs(originals: Grid, reconstructions: Grid) -> Grid {
    interleave(vec![originals, reconstructions])
}

/// Interleaves the grids row by row: row 1 of each, then row 2 of each, and so on, while every
/// grid has a row left (a partial last row is padded with blank tiles). The tile size, columns
/// and scale are the first grid's.
pub fn interleave(grids: Vec<Grid>) -> Grid {
    let mut grids = grids.into_iter();
    let Some(first) = grids.next() else {
        return Grid {
            tile: [1, 1, 1],
            cols: 1,
            tiles: Vec::new(),
            scale: 1,
        };
    };
    let cols = first.cols.max(1);
    let all: Vec<Vec<Vec<f32>>> = std::iter::once(first.tiles.clone())
        .chain(grids.map(|g| g.tiles))
        .collect();
    let rows = all
        .iter()
        .map(|t| t.len().div_ceil(cols))
        .min()
        .unwrap_or(0);
    let mut tiles = Vec::new();
    for r in 0..rows {
        for t in &all {
            let row = &t[r * cols..((r + 1) * cols).min(t.len())];
            tiles.extend_from_slice(row);
            tiles.extend(std::iter::repeat_n(Vec::new(), cols - row.len()));
        }
    }
    Grid { tiles, ..first }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_has_the_right_size_and_shades() {
        let grid = Grid {
            tile: [1, 2, 3],
            cols: 2,
            tiles: vec![vec![0.0; 6], vec![1.0; 6], vec![0.5; 6]],
            scale: 2,
        };
        let img = grid.render().unwrap();
        // 2 columns of 6 px, 2 rows of 4 px, gaps of 2.
        assert_eq!((img.width(), img.height()), (2 * 6 + 3 * 2, 2 * 4 + 3 * 2));
        assert_eq!(img.get_pixel(2, 2).0, [0; 3]);
        assert_eq!(img.get_pixel(2 + 6 + 2, 2).0, [255; 3]);
        assert_eq!(img.get_pixel(2, 2 + 4 + 2).0, [128; 3]);
        assert_eq!(img.get_pixel(0, 0).0, [GAP_SHADE; 3]);
    }

    #[test]
    fn colour_tiles_are_drawn_from_their_planes() {
        // One 1x2 tile: red plane [1, 0], green [0, 1], blue [0.2, 0.4].
        let grid = Grid {
            tile: [3, 1, 2],
            cols: 1,
            tiles: vec![vec![1.0, 0.0, 0.0, 1.0, 0.2, 0.4]],
            scale: 1,
        };
        let img = grid.render().unwrap();
        assert_eq!(img.get_pixel(GAP, GAP).0, [255, 0, 51]);
        assert_eq!(img.get_pixel(GAP + 1, GAP).0, [0, 255, 102]);
    }

    #[test]
    fn pairs_interleave_rows() {
        let g = |v: f32| Grid {
            tile: [1, 1, 1],
            cols: 2,
            tiles: vec![vec![v]; 4],
            scale: 1,
        };
        let p = pairs(g(0.0), g(1.0));
        let firsts: Vec<f32> = p.tiles.iter().map(|t| t[0]).collect();
        assert_eq!(firsts, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]);
        // Three grids, the shortest deciding how many rows.
        let mut short = g(2.0);
        short.tiles.truncate(2);
        let p = interleave(vec![g(0.0), g(1.0), short]);
        let firsts: Vec<f32> = p.tiles.iter().map(|t| t[0]).collect();
        assert_eq!(firsts, vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
        // A partial last row is padded with blank tiles, which render as gaps.
        let mut three = g(0.0);
        three.tiles.truncate(3);
        let p = pairs(three.clone(), three);
        assert_eq!(p.tiles.len(), 8);
        assert!(p.tiles[5].is_empty() && p.tiles[7].is_empty() && !p.tiles[6].is_empty());
        let img = p.render().unwrap();
        assert_eq!(img.get_pixel(2 + 1 + 2, 2 + 2 * 3).0, [GAP_SHADE; 3]);
    }
}
