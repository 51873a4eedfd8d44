//! The object store adapters against a real S3 server (s3s-fs) and a folder:
//! what comes back is byte for byte what went in.

use roster_shared::config::S3Config;
use roster_shared::model::ImportId;
use roster_shared::storage::{FolderStore, ObjectStore, S3Store, StorageError, StorageKey};
use roster_tests::services::{S3_BUCKET, S3_KEY, S3_SECRET};
use roster_tests::{Mode, World};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// 5 MiB of bytes that no compression or chunk framing leaves unchanged by accident.
fn payload() -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..5 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

async fn round_trip(store: &dyn ObjectStore, scratch: &std::path::Path) {
    let bytes = payload();
    let source = scratch.join("source.bin");
    std::fs::write(&source, &bytes).unwrap();
    let key = StorageKey::Upload {
        import: ImportId::new(),
    };
    store.put_file(&key, &source).await.unwrap();

    let copy = scratch.join("copy.bin");
    let size = store.get_to_file(&key, &copy).await.unwrap();
    let back = std::fs::read(&copy).unwrap();
    assert_eq!(size as usize, bytes.len());
    assert_eq!(
        hex::encode(Sha256::digest(&back)),
        hex::encode(Sha256::digest(&bytes))
    );

    let (declared, mut reader) = store.open(&key).await.unwrap();
    let mut streamed = Vec::new();
    reader.read_to_end(&mut streamed).await.unwrap();
    assert_eq!(declared as usize, bytes.len());
    assert_eq!(Sha256::digest(&streamed), Sha256::digest(&bytes));

    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap(); // deleting what is gone succeeds
    assert!(matches!(
        store.open(&key).await,
        Err(StorageError::NotFound(_))
    ));
}

#[tokio::test]
async fn s3_objects_come_back_with_the_size_and_hash_they_went_in_with() {
    let world = World::start(Mode::Cluster, 0, &[]).await;
    let store = S3Store::new(&S3Config {
        bucket: S3_BUCKET.into(),
        endpoint: Some(format!("http://127.0.0.1:{}", world.s3_port.unwrap())),
        region: "us-east-1".into(),
        force_path_style: true,
        access_key: S3_KEY.into(),
        secret_key: S3_SECRET.into(),
    });
    store.ping().await.unwrap();
    round_trip(&store, world.dir.path()).await;
}

#[tokio::test]
async fn folder_objects_come_back_with_the_size_and_hash_they_went_in_with() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderStore::new(dir.path().join("objects"));
    store.ping().await.unwrap();
    round_trip(&store, dir.path()).await;
}
