//! Finding and downloading data sets: a small HTTP server on 127.0.0.1 stands in for the mirror.

use ae_data::source::{download, sha256_hex};
use ae_data::{DataError, DatasetName, Sources, Split, idx};
use flate2::{Compression, write::GzEncoder};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ae-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves `body` with status 200 to every request, on a thread; returns the base URL.
fn serve(body: Vec<u8>, requests: usize) -> String {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend(body);
    serve_raw(response, requests)
}

/// Answers every request with `response`, head and body as given, on a thread; returns the
/// base URL.
fn serve_raw(response: Vec<u8>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{addr}")
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_good_download_is_verified_and_renamed_into_place() {
    let content = idx::encode(&[3], &[1, 2, 3]);
    let url = format!("{}/labels.gz", serve(gz(&content), 1));
    let dir = temp_dir("good");
    let dest = dir.join("labels.gz");
    download(&url, &sha256_hex(&content), &dest).unwrap();
    assert_eq!(idx::read(&dest, 1).unwrap().data, vec![1, 2, 3]);
    assert_eq!(leftovers(&dir), vec!["labels.gz".to_string()]);
}

#[test]
fn a_bad_checksum_is_rejected_and_nothing_is_left_behind() {
    let content = idx::encode(&[3], &[1, 2, 3]);
    let url = format!("{}/labels.gz", serve(gz(&content), 1));
    let dir = temp_dir("badsum");
    let err = download(&url, &sha256_hex(b"something else"), &dir.join("labels.gz")).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn a_server_that_is_gone_gives_a_clear_error() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The listener is dropped: nothing answers on that port any more.
    let url = format!("http://{addr}/labels.gz");
    let dir = temp_dir("gone");
    let err = download(&url, "00", &dir.join("labels.gz")).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("download of {url} failed")),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty());
}

fn offline_sources(cache: PathBuf) -> Sources {
    Sources {
        data_dir: None,
        env_dir: None,
        cache_dir: Some(cache),
        system_dir: PathBuf::from("/nonexistent-ae-system-dir"),
        mirror: Some("http://127.0.0.1:9".into()),
        download: true,
    }
}

#[test]
fn offline_with_no_files_lists_every_way_to_provide_them() {
    let cache = temp_dir("offline");
    let err = offline_sources(cache.clone())
        .locate(DatasetName::Mnist)
        .unwrap_err();
    let msg = err.to_string();
    for needle in [
        "no copy of mnist found",
        "--data-dir",
        "AE_DATA_DIR",
        "cache folder",
        "/nonexistent-ae-system-dir/mnist",
        "download of http://127.0.0.1:9/mnist/train-images-idx3-ubyte.gz failed",
        "train-labels-idx1-ubyte.gz",
    ] {
        assert!(msg.contains(needle), "missing {needle:?} in: {msg}");
    }
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn an_explicit_data_dir_without_the_files_is_an_error_not_a_fallback() {
    let mut sources = offline_sources(temp_dir("explicit-cache"));
    sources.data_dir = Some(temp_dir("explicit"));
    let msg = sources
        .locate(DatasetName::FashionMnist)
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("--data-dir"), "{msg}");
    assert!(msg.contains("fashion-mnist"), "{msg}");
}

/// Writes a tiny made-up data set (`n` images of 2x2) into `dir`.
fn write_tiny_set(dir: &Path, n_images: u32, n_labels: u32) {
    for (stem, dims, len) in [
        (
            "train-images-idx3-ubyte",
            vec![n_images, 2, 2],
            n_images * 4,
        ),
        ("train-labels-idx1-ubyte", vec![n_labels], n_labels),
        ("t10k-images-idx3-ubyte", vec![1, 2, 2], 4),
        ("t10k-labels-idx1-ubyte", vec![1], 1),
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i % 10) as u8).collect();
        std::fs::write(
            dir.join(format!("{stem}.gz")),
            gz(&idx::encode(&dims, &data)),
        )
        .unwrap();
    }
}

#[test]
fn files_are_found_through_the_environment_folder_and_checked_against_each_other() {
    let root = temp_dir("envdir");
    let dir = root.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    write_tiny_set(&dir, 3, 3);
    let mut sources = offline_sources(temp_dir("envdir-cache"));
    sources.env_dir = Some(root.clone());
    let set = ae_data::load(DatasetName::Mnist, Split::Train, &sources).unwrap();
    assert_eq!((set.len(), set.rows, set.cols), (3, 2, 2));
    assert_eq!(set.image(1), &[4, 5, 6, 7]);

    write_tiny_set(&dir, 3, 2);
    let msg = ae_data::load(DatasetName::Mnist, Split::Train, &sources)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("3 images but 2 labels"), "{msg}");
}

/// The real data sets, when `AE_DATA_DIR` points at them (CI does): both load, with the
/// published sizes, and loading MNIST whole stays well under a second in release builds.
#[test]
fn real_data_sets_load_when_available() {
    let sources = Sources::from_env(None);
    let Some(root) = sources.env_dir.clone() else {
        assert!(std::env::var_os("CI").is_none(), "CI must set AE_DATA_DIR");
        eprintln!("SKIPPED real_data_sets_load_when_available: AE_DATA_DIR is not set");
        return;
    };
    assert!(
        root.join("mnist").exists(),
        "AE_DATA_DIR={} has no mnist/",
        root.display()
    );
    for dataset in DatasetName::ALL {
        let start = std::time::Instant::now();
        let train = ae_data::load(dataset, Split::Train, &sources).unwrap();
        let test = ae_data::load(dataset, Split::Test, &sources).unwrap();
        let elapsed = start.elapsed();
        eprintln!("loaded {dataset} (70,000 images) in {elapsed:.2?}");
        assert_eq!((train.len(), test.len()), (60_000, 10_000));
        assert_eq!((train.rows, train.cols), (28, 28));
    }
}

#[test]
fn a_server_announcing_a_huge_file_is_refused_before_anything_is_reserved() {
    // Near u64::MAX: sizing a buffer by it would abort the process.
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551000\r\n\r\nabc";
    let url = format!("{}/labels.gz", serve_raw(head.as_bytes().to_vec(), 1));
    let dir = temp_dir("huge");
    let err = download(&url, "00", &dir.join("labels.gz")).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("the server announces 18446744073709551000 bytes, more than the 256 MiB"),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty());
}
