//! `ImageSet::binarize`: black or white only, white as often as the grey value says, the same
//! draw for the same seed whatever the set's length.

use ae_data::ImageSet;

/// `n` images of 64 pixels, image `i` all of value `values[i % values.len()]`.
fn set(n: usize, values: &[u8]) -> ImageSet {
    ImageSet {
        channels: 1,
        rows: 8,
        cols: 8,
        pixels: (0..n)
            .flat_map(|i| [values[i % values.len()]; 64])
            .collect(),
        labels: vec![0; n],
    }
}

#[test]
fn pixels_become_black_or_white_as_often_as_their_grey_says() {
    let values = [0u8, 1, 64, 128, 200, 254, 255];
    let n = 7 * 400;
    let mut s = set(n, &values);
    s.binarize(5);
    assert!(s.pixels.iter().all(|&p| p == 0 || p == 255));
    for (k, &v) in values.iter().enumerate() {
        let (mut white, mut total) = (0usize, 0usize);
        for i in (k..n).step_by(values.len()) {
            white += s.image(i).iter().filter(|&&p| p == 255).count();
            total += 64;
        }
        let share = white as f64 / total as f64;
        let want = f64::from(v) / 255.0;
        // 25,600 draws: four standard errors (at most 0.0031) plus the draw's own rounding.
        let sd = (want * (1.0 - want) / total as f64).sqrt();
        assert!(
            (share - want).abs() <= 4.0 * sd + 1e-9,
            "grey {v}: white {share}, expected {want}"
        );
        match v {
            0 => assert_eq!(white, 0),
            255 => assert_eq!(white, total),
            _ => assert!(white > 0 && white < total, "grey {v}: {white} of {total}"),
        }
    }
}

#[test]
fn the_draw_depends_on_the_seed_and_the_image_not_on_the_set_s_length() {
    let draw = |n: usize, seed: u64| {
        let mut s = set(n, &[100, 180]);
        s.binarize(seed);
        s.pixels
    };
    let (short, long) = (draw(3, 9), draw(50, 9));
    assert_eq!(short, long[..short.len()]);
    assert_eq!(draw(50, 9), long);
    assert_ne!(draw(50, 10), long);
    // Two images of the same grey draw differently.
    assert_ne!(long[..64], long[128..192]);
}
