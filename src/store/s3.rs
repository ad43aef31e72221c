//! The S3 client (feature `s3`).
//!
//! In: an `s3://` URL (credentials, region and endpoint from the usual `AWS_*` variables, as
//! `object_store`'s `AmazonS3Builder::from_env` reads them), local files or bytes to store, keys to
//! list and read. Out: objects that appear whole or not at all, never replacing an existing object
//! unless asked:
//!
//! - up to [`SINGLE_PUT_MAX`] bytes, one PUT, conditional (`If-None-Match: *`) unless overwriting;
//! - larger, a multipart upload to a hidden temp key beside the dataset
//!   (`<prefix>/.synth-forward-tmp/…`: readers skip dot folders), completed only when every part
//!   is there and aborted on any error, then copied to its key, conditionally (a multipart copy
//!   whose completion carries `If-None-Match: *`) unless overwriting, and the temp key deleted.
//!
//! A store call runs on a small current-thread runtime of its own, so callers stay synchronous.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
use object_store::path::{Path as Key, PathPart};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

/// Objects up to this size go in one PUT; larger ones as a multipart upload of parts this size.
pub const SINGLE_PUT_MAX: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} is not an s3://bucket/prefix URL")]
    Url(String),
    #[error("{0} already exists (set overwrite to replace it)")]
    Exists(String),
    #[error("{what} {url}: {source}")]
    Store {
        what: &'static str,
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{what} {path}: {source}")]
    Local {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A bucket and a prefix in it.
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: Key,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// `s3://bucket/prefix/` with the `AWS_*` environment (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP` for
    /// an S3-compatible server). The conditional copy is the multipart one (`If-None-Match: *` on
    /// its completion), which Amazon S3 and servers that follow it support, unless
    /// `AWS_COPY_IF_NOT_EXISTS` says otherwise.
    pub fn parse(url: &str) -> Result<Remote, StoreError> {
        Remote::parse_with(url, std::iter::empty::<(&str, &str)>())
    }

    /// [`Remote::parse`] with settings over the environment's, by `object_store`'s names
    /// (`aws_endpoint`, `aws_allow_http`, `aws_access_key_id`, …).
    pub fn parse_with<K: AsRef<str>, V: Into<String>>(
        url: &str,
        config: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Remote, StoreError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| StoreError::Url(url.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::Url(url.to_owned()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if std::env::var_os("AWS_COPY_IF_NOT_EXISTS").is_none() {
            builder = builder.with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
        }
        for (k, v) in config {
            let key: AmazonS3ConfigKey = k.as_ref().parse().map_err(|e| StoreError::Store {
                what: "configuring",
                url: url.to_owned(),
                source: e,
            })?;
            builder = builder.with_config(key, v);
        }
        #[cfg(feature = "tls")]
        crate::tls::install_provider();
        let store =
            builder.build().map_err(|e| StoreError::Store { what: "opening", url: url.to_owned(), source: e })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Local { what: "starting the runtime for", path: url.to_owned(), source: e })?;
        Ok(Remote { store: Arc::new(store), bucket: bucket.to_owned(), prefix: Key::from(prefix), runtime })
    }

    /// The key of `relative` (a `/`-separated path below the prefix).
    pub fn key(&self, relative: &str) -> Key {
        self.key_from(relative.split('/').filter(|p| !p.is_empty()).map(PathPart::from))
    }

    /// The key of a relative local path below the prefix: its folders become the key's parts, so a
    /// file staged under a folder and its object share their layout.
    pub fn key_of(&self, relative: &Path) -> Key {
        self.key_from(relative.iter().map(|p| PathPart::from(p.to_string_lossy().into_owned())))
    }

    fn key_from<'a>(&'a self, relative: impl Iterator<Item = PathPart<'a>>) -> Key {
        Key::from_iter(self.prefix.parts().chain(relative))
    }

    /// `s3://bucket/key`.
    pub fn url(&self, key: &Key) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    pub fn exists(&self, key: &Key) -> Result<bool, StoreError> {
        match self.runtime.block_on(self.store.head(key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(StoreError::Store { what: "looking for", url: self.url(key), source: e }),
        }
    }

    /// Stores `bytes` at `key` in one conditional PUT (module doc).
    pub fn put(&self, key: &Key, bytes: Bytes, overwrite: bool) -> Result<(), StoreError> {
        let mode = if overwrite { PutMode::Overwrite } else { PutMode::Create };
        let opts = PutOptions { mode, ..PutOptions::default() };
        let put = self.runtime.block_on(self.store.put_opts(key, PutPayload::from(bytes), opts));
        put.map(drop).map_err(|e| self.write_error("writing", key, e))
    }

    /// What a write to `key` that failed says: [`StoreError::Exists`] where a conditional write
    /// met an existing object.
    fn write_error(&self, what: &'static str, key: &Key, e: object_store::Error) -> StoreError {
        match e {
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
                StoreError::Exists(self.url(key))
            }
            e => StoreError::Store { what, url: self.url(key), source: e },
        }
    }

    /// Stores the local file `path` at `key` (module doc): whole or not at all.
    pub fn upload(&self, path: &Path, key: &Key, overwrite: bool) -> Result<(), StoreError> {
        let local = |what, e| StoreError::Local { what, path: path.display().to_string(), source: e };
        let len = std::fs::metadata(path).map_err(|e| local("reading", e))?.len() as usize;
        if len <= SINGLE_PUT_MAX {
            let bytes = std::fs::read(path).map_err(|e| local("reading", e))?;
            return self.put(key, Bytes::from(bytes), overwrite);
        }
        // Looked up first so an existing object costs no upload; the conditional completion in
        // `place` is what guarantees it.
        if !overwrite && self.exists(key)? {
            return Err(StoreError::Exists(self.url(key)));
        }
        self.place(path, key, overwrite)
    }

    /// [`Remote::upload`]'s multipart path without the look-up first: the conditional copy alone
    /// keeps an existing object (what a writer that lost a race meets).
    pub fn place(&self, path: &Path, key: &Key, overwrite: bool) -> Result<(), StoreError> {
        let local = |what, e| StoreError::Local { what, path: path.display().to_string(), source: e };
        let temp =
            self.key(&format!(".synth-forward-tmp/{}-{}", uuid::Uuid::new_v4(), key.filename().unwrap_or("object")));
        self.runtime.block_on(async {
            let upload = self.store.put_multipart(&temp).await.map_err(|e| StoreError::Store {
                what: "starting the upload of",
                url: self.url(key),
                source: e,
            })?;
            let mut parts = WriteMultipart::new_with_chunk_size(upload, SINGLE_PUT_MAX);
            let filled = async {
                use tokio::io::AsyncReadExt;
                let mut file = tokio::fs::File::open(path).await.map_err(|e| local("reading", e))?;
                let mut buf = vec![0u8; SINGLE_PUT_MAX];
                loop {
                    // At most two parts in flight: the file is never all in memory.
                    parts.wait_for_capacity(2).await.map_err(|e| StoreError::Store {
                        what: "uploading",
                        url: self.url(key),
                        source: e,
                    })?;
                    let n = file.read(&mut buf).await.map_err(|e| local("reading", e))?;
                    if n == 0 {
                        return Ok(());
                    }
                    parts.write(&buf[..n]);
                }
            }
            .await;
            if let Err(e) = filled {
                let _ = parts.abort().await;
                return Err(e);
            }
            // Completing the upload is the one step that makes the temp object exist.
            parts.finish().await.map_err(|e| StoreError::Store {
                what: "completing the upload of",
                url: self.url(key),
                source: e,
            })?;
            let placed = if overwrite {
                self.store.copy(&temp, key).await
            } else {
                self.store.copy_if_not_exists(&temp, key).await
            };
            let _ = self.store.delete(&temp).await;
            placed.map_err(|e| self.write_error("placing", key, e))
        })
    }

    /// Every `.parquet` key below `relative` (hidden folders and scores tables skipped), sorted.
    pub fn list_parquet(&self, relative: &str) -> Result<Vec<Key>, StoreError> {
        let mut keys = self.list(relative)?;
        keys.retain(|k| {
            let skip = k.parts().any(|p| crate::score::inputs::skipped_name(p.as_ref()));
            !skip && k.extension() == Some("parquet")
        });
        Ok(keys)
    }

    /// Every key below `relative`, sorted.
    pub fn list(&self, relative: &str) -> Result<Vec<Key>, StoreError> {
        let prefix = self.key(relative);
        let mut keys: Vec<Key> = self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut listing = self.store.list(Some(&prefix));
            while let Some(meta) = listing.next().await {
                let meta =
                    meta.map_err(|e| StoreError::Store { what: "listing", url: self.url(&prefix), source: e })?;
                out.push(meta.location);
            }
            Ok::<_, StoreError>(out)
        })?;
        keys.sort();
        Ok(keys)
    }

    /// Removes the object at `key` (absent is fine).
    pub fn delete(&self, key: &Key) -> Result<(), StoreError> {
        self.runtime.block_on(self.store.delete(key)).map_err(|e| StoreError::Store {
            what: "deleting",
            url: self.url(key),
            source: e,
        })
    }

    /// The whole object at `key`.
    pub fn get(&self, key: &Key) -> Result<Bytes, StoreError> {
        self.runtime.block_on(async { self.store.get(key).await?.bytes().await }).map_err(|e| StoreError::Store {
            what: "reading",
            url: self.url(key),
            source: e,
        })
    }
}
