//! What a folder holds: order, labels from class folders, ignored and hidden entries, symlinks.

use crate::common::{TempDir, bytes, grey, load, load_with, strict};
use ae_data::DataError;

#[test]
fn flat_folder_is_unlabelled_in_sorted_order_ignoring_other_and_hidden_files() {
    let dir = TempDir::new("flat");
    for i in [2u8, 0, 1, 3] {
        let name = if i == 3 {
            "00003.PNG".to_string()
        } else {
            format!("0000{i}.png")
        };
        grey(&dir.join(&name), 2, 3, |_, _| i);
    }
    bytes(&dir.join("README.txt"), b"not an image");
    bytes(&dir.join("labels.csv"), b"a,b");
    grey(&dir.join(".hidden.png"), 2, 3, |_, _| 99);
    grey(&dir.join(".thumbs/x.png"), 2, 3, |_, _| 99);
    let set = load(&dir.0).unwrap();
    assert!(set.classes.is_empty());
    assert_eq!(set.images.labels, [0, 0, 0, 0]);
    let firsts: Vec<u8> = (0..4).map(|i| set.images.image(i)[0]).collect();
    assert_eq!(firsts, [0, 1, 2, 3]);
    assert_eq!(set.ignored, 4);
    assert!(set.skipped.is_empty());
}

#[test]
fn class_folders_label_their_images_nested_deeper_too() {
    let dir = TempDir::new("classes");
    grey(&dir.join("cat/1.png"), 2, 2, |_, _| 11);
    grey(&dir.join("cat/deep/er/2.jpeg"), 2, 2, |_, _| 12);
    grey(&dir.join("dog/3.jpg"), 2, 2, |_, _| 13);
    grey(&dir.join("ant/4.png"), 2, 2, |_, _| 14);
    bytes(
        &dir.join("notes.txt"),
        b"a file beside the classes does not make it unlabelled",
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let set = load(&dir.0).unwrap();
    assert_eq!(set.classes, ["ant", "cat", "dog"]);
    assert_eq!(set.images.labels, [0, 1, 1, 2]);
    // JPEG is lossy, but a flat grey survives it closely.
    let firsts: Vec<u8> = (0..4).map(|i| set.images.image(i)[0]).collect();
    for (got, want) in firsts.iter().zip([14u8, 11, 12, 13]) {
        assert!(got.abs_diff(want) <= 2, "{firsts:?}");
    }
}

#[test]
fn an_image_directly_in_the_folder_makes_it_unlabelled() {
    let dir = TempDir::new("mixed-levels");
    grey(&dir.join("a.png"), 2, 2, |_, _| 1);
    grey(&dir.join("sub/b.png"), 2, 2, |_, _| 2);
    let set = load(&dir.0).unwrap();
    assert!(set.classes.is_empty());
    assert_eq!(set.images.labels, [0, 0]);
}

#[test]
fn more_than_256_classes_are_refused() {
    let dir = TempDir::new("many-classes");
    for i in 0..257 {
        grey(&dir.join(&format!("c{i:03}/x.png")), 1, 1, |_, _| 0);
    }
    let message = load(&dir.0).unwrap_err().to_string();
    assert!(message.contains("257 class folders"), "{message}");
}

#[cfg(unix)]
#[test]
fn symlinked_folders_are_followed_and_a_loop_terminates() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new("symlink-loop");
    let other = TempDir::new("symlink-target");
    grey(&dir.join("sub/1.png"), 2, 2, |_, _| 1);
    grey(&other.join("2.png"), 2, 2, |_, _| 2);
    symlink("..", dir.join("sub/up")).unwrap();
    symlink(&dir.0, dir.join("sub/root")).unwrap();
    symlink(&other.0, dir.join("sub/outside")).unwrap();
    for opts in [Default::default(), strict()] {
        let set = load_with(&dir.0, &opts).unwrap();
        assert_eq!(set.classes, ["sub"]);
        let firsts: Vec<u8> = (0..set.images.len())
            .map(|i| set.images.image(i)[0])
            .collect();
        assert_eq!(firsts, [1, 2]);
        assert!(set.skipped.is_empty());
    }
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_skipped_or_refused_under_strict() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new("dangling");
    grey(&dir.join("a.png"), 2, 2, |_, _| 1);
    symlink(dir.join("nowhere.png"), dir.join("gone.png")).unwrap();
    let set = load(&dir.0).unwrap();
    assert_eq!(set.images.len(), 1);
    assert_eq!(set.skipped.len(), 1);
    assert_eq!(set.skipped[0].path, dir.join("gone.png"));
    assert!(
        set.skipped[0].reason.contains("symlink"),
        "{}",
        set.skipped[0].reason
    );
    match load_with(&dir.0, &strict()) {
        Err(DataError::Folder { path, .. }) => assert_eq!(path, dir.join("gone.png")),
        other => panic!("expected an error naming gone.png, got {other:?}"),
    }
}
