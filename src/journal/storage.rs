//! Where the journal's files live: the [`Storage`] trait, and [`FileStorage`], a directory on
//! the local file system.
//!
//! The journal touches files only through this trait, so that tests and the deterministic crash
//! simulation can run it on storage that loses what was not synced, tears the last write, flips
//! bits and fills up (`SimulatedStorage`, behind the `simulated-storage` feature).
//!
//! # Contract
//!
//! The journal relies on what POSIX file systems promise and nothing more:
//!
//! * Data written to a file survives a crash only once [`StorageFile::sync_data`] returned.
//! * A created, renamed or removed name survives a crash only once [`Storage::sync_dir`]
//!   returned.
//! * A rename replaces its target atomically.
//! * A write cut short by a crash leaves a prefix of what was written (a torn write).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A flat directory of named files, as the journal needs it.
///
/// Names are plain file names (no separators). Implementations must be usable from several
/// threads (the journal thread appends while the checkpointer writes and removes).
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Creates `name` empty, replacing any file of that name, open for writing.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;

    /// Opens the existing `name` for writing, without changing it.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if there is none; any I/O error.
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;

    /// The whole content of `name`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if there is none; any I/O error.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;

    /// Every file name in the directory, sorted.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Removes `name`.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn remove(&self, name: &str) -> io::Result<()>;

    /// Renames `from` to `to`, atomically replacing `to`.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;

    /// Makes the directory's entries (creations, renames, removals) durable.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn sync_dir(&self) -> io::Result<()>;

    /// Takes the directory's exclusive lock, held until the returned guard is dropped.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] if another holder has it; any I/O error.
    fn lock(&self) -> io::Result<Box<dyn LockGuard>>;

    /// Where the files are, for messages (a path, or a description).
    fn location(&self) -> String;
}

/// An open file of a [`Storage`].
pub trait StorageFile: Send + fmt::Debug {
    /// Writes all of `bytes` at `offset`.
    ///
    /// # Errors
    ///
    /// Any I/O error; the disk being full is [`io::ErrorKind::StorageFull`].
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;

    /// Sets the file's length, filling with zeros when it grows (preallocation).
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn set_len(&mut self, len: u64) -> io::Result<()>;

    /// Makes everything written so far, and the length, durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// Any I/O error. After a failed sync nothing is known about what reached the disk.
    fn sync_data(&mut self) -> io::Result<()>;
}

/// The error for a journal directory that is a file (or anything else but a directory).
fn not_a_directory(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} is not a directory", path.display()),
    )
}

/// Holds a [`Storage`]'s lock until dropped.
pub trait LockGuard: Send + Sync + fmt::Debug {}

/// The journal's files in a directory of the local file system.
#[derive(Debug, Clone)]
pub struct FileStorage {
    directory: PathBuf,
}

impl FileStorage {
    /// Storage in `directory`, created (with its parents) if it does not exist.
    ///
    /// # Errors
    ///
    /// Any I/O error creating it.
    pub fn new(directory: impl Into<PathBuf>) -> io::Result<Self> {
        let directory = directory.into();
        // A file in the way would fail with "File exists", which does not say what is wrong.
        if directory.exists() && !directory.is_dir() {
            return Err(not_a_directory(&directory));
        }
        std::fs::create_dir_all(&directory)?;
        Ok(Self { directory })
    }

    /// Storage in an existing `directory`, never creating anything (read-only recovery).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if it does not exist or is not a directory (the message
    /// says which); another error if its metadata cannot be read.
    pub fn existing(directory: impl Into<PathBuf>) -> io::Result<Self> {
        let directory = directory.into();
        match std::fs::metadata(&directory) {
            Ok(metadata) if metadata.is_dir() => Ok(Self { directory }),
            Ok(_) => Err(not_a_directory(&directory)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist", directory.display()),
            )),
            Err(error) => Err(error),
        }
    }

    /// The directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.join(name)
    }
}

/// The name of the lock file in a journal directory.
pub const LOCK_FILE: &str = "LOCK";

#[derive(Debug)]
struct RealFile(File);

impl StorageFile for RealFile {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(offset))?;
        self.0.write_all(bytes)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

#[derive(Debug)]
struct FileLock(#[expect(dead_code, reason = "held for its lock, released on drop")] File);

impl LockGuard for FileLock {}

impl Storage for FileStorage {
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(name))?;
        Ok(Box::new(RealFile(file)))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(name))?;
        Ok(Box::new(RealFile(file)))
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        File::open(self.path(name))?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.directory)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.path(from), self.path(to))
    }

    fn sync_dir(&self) -> io::Result<()> {
        // Opening a directory read-only and syncing it is how POSIX makes its entries durable.
        File::open(&self.directory)?.sync_all()
    }

    fn lock(&self) -> io::Result<Box<dyn LockGuard>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(FileLock(file))),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "another process holds the journal directory's lock",
            )),
            Err(std::fs::TryLockError::Error(error)) => Err(error),
        }
    }

    fn location(&self) -> String {
        self.directory.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary(name: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("snapstate-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        directory
    }

    #[test]
    fn files_write_read_rename_and_remove() {
        let directory = temporary("files");
        let storage = FileStorage::new(&directory).expect("storage");
        let mut file = storage.create("a.tmp").expect("create");
        file.set_len(8).expect("set_len");
        file.write_at(2, b"xy").expect("write");
        file.sync_data().expect("sync");
        storage.rename("a.tmp", "a").expect("rename");
        storage.sync_dir().expect("sync dir");
        assert_eq!(storage.read("a").expect("read"), b"\0\0xy\0\0\0\0");
        assert_eq!(storage.list().expect("list"), vec!["a".to_owned()]);
        storage.remove("a").expect("remove");
        assert!(storage.list().expect("list").is_empty());
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn a_second_lock_is_refused_while_the_first_is_held() {
        let directory = temporary("lock");
        let storage = FileStorage::new(&directory).expect("storage");
        let held = storage.lock().expect("first lock");
        let second = storage.lock().expect_err("second lock");
        assert_eq!(second.kind(), io::ErrorKind::WouldBlock);
        drop(held);
        storage.lock().expect("lock after release");
        let _ = std::fs::remove_dir_all(&directory);
    }
}
