//! Linear algebra for the PCA yardstick: the eigen-decomposition of a symmetric matrix
//! (Householder tridiagonalisation, then implicit QL), in f64, without dependencies.
//!
//! Householder reflections `P_k = I - u uᵀ / h` reduce the matrix to a tridiagonal `T`, their
//! product `Q` is accumulated explicitly, and the implicit QL algorithm with Wilkinson shifts
//! diagonalises `T`, applying every plane rotation to `Q`. The eigenvectors are kept as rows
//! throughout, so that each rotation touches two contiguous rows. About 9n³ flops in all.

/// Why a decomposition could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinalgError {
    /// The buffer does not hold n*n numbers.
    #[error("a {n}x{n} matrix needs {} numbers, got {len}", n.saturating_mul(*n))]
    Shape {
        /// The size the matrix was said to have.
        n: usize,
        /// How many numbers the buffer holds.
        len: usize,
    },
    /// An entry is NaN or infinite.
    #[error("entry ({row}, {col}) of the matrix is not finite")]
    NotFinite {
        /// Row of the first such entry (row-major order).
        row: usize,
        /// Its column.
        col: usize,
    },
    /// QL did not converge for one eigenvalue within the iteration limit.
    #[error("the eigenvalue iteration did not converge (eigenvalue {index})")]
    NoConvergence {
        /// Position, on the tridiagonal, of the eigenvalue that did not converge.
        index: usize,
    },
}

/// Eigenvalues and eigenvectors of a symmetric matrix.
#[derive(Debug, Clone)]
pub struct SymmetricEigen {
    /// The size of the matrix.
    pub n: usize,
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// Eigenvectors as rows: `vectors[j*n..(j+1)*n]` is the unit eigenvector of `values[j]`.
    pub vectors: Vec<f64>,
}

impl SymmetricEigen {
    /// The unit eigenvector of the j-th largest eigenvalue.
    ///
    /// # Panics
    /// If `j >= n`.
    pub fn vector(&self, j: usize) -> &[f64] {
        &self.vectors[j * self.n..(j + 1) * self.n]
    }
}

/// QL iterations allowed per eigenvalue (two or three are typical).
const MAX_ITERATIONS: usize = 60;

/// Decomposes the symmetric `n x n` matrix `a` (row-major).
///
/// Only the lower triangle (entries `a[i*n + j]` with `j <= i`) is read for the decomposition;
/// the strict upper triangle is assumed to mirror it. Every entry, upper triangle included, must
/// be finite, else [`LinalgError::NotFinite`] names the first offender in row-major order.
/// `n = 0` gives an empty decomposition. Eigenvalues come largest first, and each eigenvector
/// has unit length (its sign is arbitrary).
///
/// # Errors
/// [`LinalgError::Shape`] if `a.len() != n * n`, [`LinalgError::NotFinite`] for a NaN or infinite
/// entry, [`LinalgError::NoConvergence`] if QL stalls (not seen in practice).
pub fn symmetric_eigen(a: &[f64], n: usize) -> Result<SymmetricEigen, LinalgError> {
    if n.checked_mul(n) != Some(a.len()) {
        return Err(LinalgError::Shape { n, len: a.len() });
    }
    if let Some(pos) = a.iter().position(|x| !x.is_finite()) {
        return Err(LinalgError::NotFinite {
            row: pos / n,
            col: pos % n,
        });
    }
    let mut w = a.to_vec();
    let (mut d, mut e, mut h) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    tridiagonalise(&mut w, n, &mut d, &mut e, &mut h);
    let mut z = accumulate(&w, n, &h);
    diagonalise(&mut d, &mut e, &mut z, n)?;

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]));
    let values = order.iter().map(|&i| d[i]).collect();
    let mut vectors = Vec::with_capacity(n * n);
    for &i in &order {
        vectors.extend_from_slice(&z[i * n..(i + 1) * n]);
    }
    Ok(SymmetricEigen { n, values, vectors })
}

/// Reduces the lower triangle of `w` to tridiagonal form: diagonal `d`, sub-diagonal `e`
/// (`e[i]` couples `i - 1` and `i`, `e[0] = 0`). Step `i` (from `n - 1` down to 2) reflects
/// with `P_i = I - u uᵀ / h[i]`, where `u` (supported on `0..i`) is left in `w[i][0..i]`;
/// `h[i] = 0` marks a step that needed no reflection.
fn tridiagonalise(w: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64], hs: &mut [f64]) {
    let mut p = vec![0.0; n];
    for i in (1..n).rev() {
        let (top, rest) = w.split_at_mut(i * n);
        let u = &mut rest[..i];
        let scale: f64 = u.iter().map(|x| x.abs()).sum();
        if i == 1 || scale == 0.0 {
            e[i] = u[i - 1];
            continue;
        }
        // Scaling guards the sum of squares against overflow and underflow.
        u.iter_mut().for_each(|x| *x /= scale);
        let s = dot(u, u);
        let f = u[i - 1];
        let g = if f >= 0.0 { -s.sqrt() } else { s.sqrt() };
        let h = s - f * g; // = |u|² / 2 once u[i-1] becomes f - g
        u[i - 1] = f - g;
        e[i] = scale * g;
        hs[i] = h;

        // p = B u / h, B being the leading i x i block, of which only the lower triangle is
        // read: row j gives p[j] its part up to the diagonal and, by symmetry, adds to p[..j].
        let p = &mut p[..i];
        p.fill(0.0);
        for (j, row) in top.chunks_exact(n).enumerate() {
            let row = &row[..=j];
            p[j] += dot(row, &u[..=j]);
            axpy(&mut p[..j], u[j], &row[..j]);
        }
        p.iter_mut().for_each(|x| *x /= h);
        // B' = P B P = B - q uᵀ - u qᵀ with q = p - (uᵀp / 2h) u.
        let k = dot(u, p) / (2.0 * h);
        axpy(p, -k, u);
        for (j, row) in top.chunks_exact_mut(n).enumerate() {
            let (qj, uj) = (p[j], u[j]);
            for ((x, &uk), &qk) in row[..=j].iter_mut().zip(&u[..=j]).zip(&p[..=j]) {
                *x -= qj * uk + uj * qk;
            }
        }
    }
    for (j, dj) in d.iter_mut().enumerate() {
        *dj = w[j * n + j];
    }
}

/// Forms `Qᵀ = P_1 P_2 … P_{n-1}` (row-major) from the reflections left by [`tridiagonalise`],
/// so that `A = Q T Qᵀ`. `P_k` touches only indices `0..k`, and the partial product before it
/// only `0..k-1`, so step `k` updates the leading `k x k` block alone.
fn accumulate(w: &[f64], n: usize, hs: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n * n];
    z.iter_mut().step_by(n + 1).for_each(|x| *x = 1.0);
    for (k, &h) in hs.iter().enumerate() {
        if h == 0.0 {
            continue;
        }
        let u = &w[k * n..k * n + k];
        for row in z.chunks_exact_mut(n).take(k) {
            let t = dot(&row[..k], u) / h;
            axpy(&mut row[..k], -t, u);
        }
    }
    z
}

/// Implicit QL with Wilkinson shifts on the tridiagonal (`d`, `e` as left by
/// [`tridiagonalise`]). On return `d` holds the eigenvalues and row `i` of `z` the eigenvector
/// of `d[i]`: every rotation of coordinates `i, i+1` is applied to rows `i, i+1` of `z`.
fn diagonalise(d: &mut [f64], e: &mut [f64], z: &mut [f64], n: usize) -> Result<(), LinalgError> {
    if n == 0 {
        return Ok(());
    }
    // From here on e[i] couples i and i + 1.
    e.rotate_left(1);
    e[n - 1] = 0.0;
    // Negligible means small next to the whole matrix (as in EISPACK), which is backward stable
    // and keeps clusters of near-zero eigenvalues from costing extra iterations.
    let norm = d
        .iter()
        .zip(e.iter())
        .map(|(x, y)| x.abs() + y.abs())
        .fold(0.0, f64::max);
    let tol = f64::EPSILON * norm;
    for l in 0..n {
        let mut iterations = 0;
        loop {
            let m = (l..n - 1).find(|&m| e[m].abs() <= tol).unwrap_or(n - 1);
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > MAX_ITERATIONS {
                return Err(LinalgError::NoConvergence { index: l });
            }
            // Shift: the eigenvalue of the leading 2x2 of the block nearer to d[l].
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut split = false;
            // Chase the bulge from the bottom of the block up to l with plane rotations.
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                let r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    // Underflow: the block has split; undo the pending shift and start over.
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    split = true;
                    break;
                }
                s = f / r;
                c = g / r;
                let g2 = d[i + 1] - p;
                let t = (d[i] - g2) * s + 2.0 * c * b;
                p = s * t;
                d[i + 1] = g2 + p;
                g = c * t - b;
                let (zi, zi1) = z[i * n..(i + 2) * n].split_at_mut(n);
                for (x, y) in zi.iter_mut().zip(zi1.iter_mut()) {
                    let f = *y;
                    *y = s * *x + c * f;
                    *x = c * *x - s * f;
                }
            }
            if !split {
                d[l] -= p;
                e[l] = g;
                e[m] = 0.0;
            }
        }
    }
    Ok(())
}

/// The dot product, with four running sums so that it vectorises.
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let (xs, ys) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(a, b)| a * b)
        .sum();
    let mut acc = [0.0; 4];
    for (a, b) in xs.zip(ys) {
        for ((s, &ak), &bk) in acc.iter_mut().zip(a).zip(b) {
            *s += ak * bk;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += alpha * x`.
fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    for (yk, &xk) in y.iter_mut().zip(x) {
        *yk += alpha * xk;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator of numbers in [-1, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Lcg(seed);
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let x = rng.next();
                a[i * n + j] = x;
                a[j * n + i] = x;
            }
        }
        a
    }

    /// Checks A v = λ v for every pair, orthonormality, and trace = sum of eigenvalues.
    fn check(a: &[f64], eig: &SymmetricEigen, tol: f64) {
        let n = eig.n;
        let scale = eig.values.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        for (j, &lambda) in eig.values.iter().enumerate() {
            let v = eig.vector(j);
            for (row, &vi) in a.chunks_exact(n).zip(v) {
                let av: f64 = row.iter().zip(v).map(|(x, y)| x * y).sum();
                assert!(
                    (av - lambda * vi).abs() <= tol * scale,
                    "pair {j}: residual too big"
                );
            }
            for k in 0..=j {
                let vk = eig.vector(k);
                let ip: f64 = v.iter().zip(vk).map(|(x, y)| x * y).sum();
                let want = if j == k { 1.0 } else { 0.0 };
                assert!(
                    (ip - want).abs() <= tol,
                    "vectors {j} and {k}: inner product {ip}"
                );
            }
        }
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let sum: f64 = eig.values.iter().sum();
        assert!((trace - sum).abs() <= tol * scale * n as f64);
        assert!(eig.values.windows(2).all(|w| w[0] >= w[1]), "not sorted");
    }

    /// Compares up to sign.
    fn same_direction(v: &[f64], want: &[f64]) -> bool {
        let ip: f64 = v.iter().zip(want).map(|(x, y)| x * y).sum();
        v.iter()
            .zip(want)
            .all(|(x, y)| (x - ip.signum() * y).abs() < 1e-12)
    }

    #[test]
    fn two_by_two() {
        let a = [2.0, 1.0, 1.0, 2.0];
        let eig = symmetric_eigen(&a, 2).unwrap();
        assert!((eig.values[0] - 3.0).abs() < 1e-12 && (eig.values[1] - 1.0).abs() < 1e-12);
        let r = 0.5_f64.sqrt();
        assert!(same_direction(eig.vector(0), &[r, r]));
        assert!(same_direction(eig.vector(1), &[r, -r]));
        check(&a, &eig, 1e-12);
    }

    #[test]
    fn three_by_three() {
        // The second-difference matrix: eigenvalues 2 + √2, 2, 2 - √2.
        let a = [2.0, -1.0, 0.0, -1.0, 2.0, -1.0, 0.0, -1.0, 2.0];
        let eig = symmetric_eigen(&a, 3).unwrap();
        let s = 2.0_f64.sqrt();
        for (got, want) in eig.values.iter().zip([2.0 + s, 2.0, 2.0 - s]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!(same_direction(eig.vector(0), &[0.5, -s / 2.0, 0.5]));
        assert!(same_direction(eig.vector(1), &[1.0 / s, 0.0, -1.0 / s]));
        assert!(same_direction(eig.vector(2), &[0.5, s / 2.0, 0.5]));
        check(&a, &eig, 1e-12);
    }

    #[test]
    fn diagonal_is_sorted() {
        let diag = [3.0, -1.0, 7.0, 0.5];
        let on_diagonal = |k: usize| k.is_multiple_of(5);
        let a: Vec<f64> = (0..16)
            .map(|k| if on_diagonal(k) { diag[k / 5] } else { 0.0 })
            .collect();
        let eig = symmetric_eigen(&a, 4).unwrap();
        assert_eq!(eig.values, vec![7.0, 3.0, 0.5, -1.0]);
        for (j, axis) in [2, 0, 3, 1].into_iter().enumerate() {
            let mut e = [0.0; 4];
            e[axis] = 1.0;
            assert!(same_direction(eig.vector(j), &e));
        }
    }

    #[test]
    fn random_50() {
        let a = random_symmetric(50, 7);
        let eig = symmetric_eigen(&a, 50).unwrap();
        check(&a, &eig, 1e-10);
    }

    #[test]
    fn only_lower_triangle_is_read() {
        let mut a = random_symmetric(20, 3);
        let want = symmetric_eigen(&a, 20).unwrap();
        let upper = a.iter_mut().enumerate().filter(|(k, _)| k % 20 > k / 20);
        upper.for_each(|(_, x)| *x = 1e6);
        let got = symmetric_eigen(&a, 20).unwrap();
        assert_eq!(got.values, want.values);
    }

    #[test]
    fn rank_deficient_psd() {
        let (rows, n) = (10, 30);
        let mut rng = Lcg(11);
        let x: Vec<f64> = (0..rows * n).map(|_| rng.next()).collect();
        let a: Vec<f64> = (0..n * n)
            .map(|k| (0..rows).map(|r| x[r * n + k / n] * x[r * n + k % n]).sum())
            .collect();
        let eig = symmetric_eigen(&a, n).unwrap();
        check(&a, &eig, 1e-10);
        let top = eig.values[0];
        assert!(eig.values[..rows].iter().all(|&v| v > 1e-3 * top));
        assert!(
            eig.values[rows..]
                .iter()
                .all(|&v| v.abs() < 1e-12 * top * n as f64)
        );
        assert!(eig.values.iter().all(|&v| v >= -1e-9 * top));
    }

    #[test]
    fn repeated_eigenvalues() {
        // I + v vᵀ: eigenvalue 1 + |v|² = 56 once, and 1 four times.
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        let identity = |k: usize| if k.is_multiple_of(6) { 1.0 } else { 0.0 };
        let a: Vec<f64> = (0..25).map(|k| v[k / 5] * v[k % 5] + identity(k)).collect();
        let eig = symmetric_eigen(&a, 5).unwrap();
        assert!((eig.values[0] - 56.0).abs() < 1e-12);
        assert!(eig.values[1..].iter().all(|x| (x - 1.0).abs() < 1e-12));
        let norm = 55.0_f64.sqrt();
        assert!(same_direction(eig.vector(0), &v.map(|x| x / norm)));
        check(&a, &eig, 1e-12);
    }

    #[test]
    fn trivial_sizes() {
        let eig = symmetric_eigen(&[], 0).unwrap();
        assert!(eig.values.is_empty() && eig.vectors.is_empty());
        let eig = symmetric_eigen(&[-4.5], 1).unwrap();
        assert_eq!((eig.values, eig.vectors), (vec![-4.5], vec![1.0]));
        let eig = symmetric_eigen(&[0.0; 9], 3).unwrap();
        let identity = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!((eig.values, eig.vectors), (vec![0.0; 3], identity));
    }

    #[test]
    fn errors() {
        let shape = symmetric_eigen(&[1.0; 5], 2).unwrap_err();
        assert_eq!(shape, LinalgError::Shape { n: 2, len: 5 });
        assert_eq!(shape.to_string(), "a 2x2 matrix needs 4 numbers, got 5");
        let mut a = [0.0; 9];
        a[7] = f64::NAN;
        let err = symmetric_eigen(&a, 3).unwrap_err();
        assert_eq!(err, LinalgError::NotFinite { row: 2, col: 1 });
        (a[7], a[2]) = (0.0, f64::INFINITY); // the upper triangle is checked too
        let err = symmetric_eigen(&a, 3).unwrap_err();
        assert_eq!(err, LinalgError::NotFinite { row: 0, col: 2 });
    }
}
