//! [`SimulatedStorage`]: in-memory journal storage that fails the way disks and crashes do.
//!
//! Compiled for the crate's own tests and behind the `simulated-storage` feature (tests, the
//! crash simulation); never in an embedder's default build.
//!
//! It keeps, per file, what is durable (as of the last [`sync_data`](StorageFile::sync_data))
//! apart from what is merely written, and, for the directory, which names are durable (as of
//! the last [`sync_dir`](Storage::sync_dir)). [`crash`](SimulatedStorage::crash) throws away
//! everything not durable, optionally keeping a prefix of each file's last unsynced write (a
//! torn write). Faults: a byte budget after which writes fail with
//! [`io::ErrorKind::StorageFull`], failing syncs, and flipped bits.

use std::collections::BTreeMap;
use std::io;
use std::ops::DerefMut;

use crate::sync::{Arc, IoMutex};

use super::storage::{LockGuard, Storage, StorageFile};

/// In-memory, fault-injecting storage. Clones share the same files (a clone is a second handle
/// on one simulated disk, as a restarted process would see it).
#[derive(Debug, Clone, Default)]
pub struct SimulatedStorage {
    disk: Arc<IoMutex<Disk>>,
    /// The crash generation this handle belongs to; a handle from before a crash (the crashed
    /// process's) fails every operation, so nothing it does reaches the surviving disk.
    generation: u64,
}

#[derive(Debug, Default)]
struct Disk {
    generation: u64,
    next_id: u64,
    files: BTreeMap<u64, SimulatedFile>,
    /// Names as a running process sees them.
    names: BTreeMap<String, u64>,
    /// Names as they would be after a crash.
    durable_names: BTreeMap<String, u64>,
    locked: bool,
    /// Bytes that may still be written before writes fail as a full disk; `None`: no limit.
    space_left: Option<u64>,
    fail_syncs: bool,
}

#[derive(Debug, Default, Clone)]
struct SimulatedFile {
    current: Vec<u8>,
    durable: Vec<u8>,
    /// The writes since the last sync, in order, as (offset, bytes), for tearing.
    unsynced_writes: Vec<(u64, Vec<u8>)>,
}

/// What a [`SimulatedStorage::crash`] threw away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashLoss {
    /// Files whose unsynced writes were lost.
    pub files_with_lost_writes: u64,
    /// Bytes of unsynced writes that were kept (a prefix of the unsynced writes, in order,
    /// the last one possibly cut short).
    pub unsynced_bytes_kept: u64,
}

impl SimulatedStorage {
    /// An empty simulated disk with no limit on space.
    pub fn new() -> Self {
        Self::default()
    }

    fn disk(&self) -> impl DerefMut<Target = Disk> + '_ {
        self.disk
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The disk, if this handle's process has not crashed.
    fn live_disk(&self) -> io::Result<impl DerefMut<Target = Disk> + '_> {
        let disk = self.disk();
        if disk.generation != self.generation {
            return Err(io::Error::other("the simulated process crashed"));
        }
        Ok(disk)
    }

    /// Simulates a crash: every file goes back to its durable content, every name to its
    /// durable state, and the lock is released. With `tear` = `Some(fraction)` in `0.0..=1.0`,
    /// each file keeps that fraction (rounded down) of the bytes of its unsynced writes, in the
    /// order they were written, as a disk that wrote back in order until the power went: the
    /// write where it stopped is torn.
    ///
    /// Returns a handle for the process that restarts on what survived. Every handle from before
    /// (the crashed process's, and its open files) fails from now on.
    pub fn crash(&self, tear: Option<f64>) -> (SimulatedStorage, CrashLoss) {
        let mut disk = self.disk();
        disk.generation += 1;
        let survivor = SimulatedStorage {
            disk: Arc::clone(&self.disk),
            generation: disk.generation,
        };
        let mut loss = CrashLoss::default();
        let durable_names = disk.durable_names.clone();
        disk.names = durable_names;
        disk.locked = false;
        let live: Vec<u64> = disk.names.values().copied().collect();
        disk.files.retain(|id, _| live.contains(id));
        for file in disk.files.values_mut() {
            if file.current != file.durable {
                loss.files_with_lost_writes += 1;
            }
            let mut survived = file.durable.clone();
            if let Some(fraction) = tear {
                let total: usize = file
                    .unsynced_writes
                    .iter()
                    .map(|(_, bytes)| bytes.len())
                    .sum();
                let mut budget = ((total as f64) * fraction.clamp(0.0, 1.0)) as usize;
                for (offset, bytes) in &file.unsynced_writes {
                    let kept = bytes.len().min(budget);
                    if kept == 0 {
                        break;
                    }
                    let offset = *offset as usize;
                    let end = offset + kept;
                    if survived.len() < end {
                        survived.resize(end, 0);
                    }
                    survived[offset..end].copy_from_slice(&bytes[..kept]);
                    loss.unsynced_bytes_kept += kept as u64;
                    budget -= kept;
                }
            }
            file.current = survived.clone();
            file.durable = survived;
            file.unsynced_writes.clear();
        }
        (survivor, loss)
    }

    /// Simulates the process being killed (`kill -9`) while the machine stays up: every file and
    /// name stays as the process left it (the operating system keeps writes it has not yet
    /// written back), nothing becomes durable that was not, and the lock is released. A later
    /// [`crash`](Self::crash) still loses what no one synced.
    ///
    /// Returns a handle for the process that restarts; every handle from before fails from now
    /// on, as after a crash.
    pub fn kill(&self) -> SimulatedStorage {
        let mut disk = self.disk();
        disk.generation += 1;
        disk.locked = false;
        SimulatedStorage {
            disk: Arc::clone(&self.disk),
            generation: disk.generation,
        }
    }

    /// Flips bit `bit` (0 = least significant) of byte `offset` of `name`, in both its current
    /// and its durable content (a disk's bit rot).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if there is no such file or byte.
    pub fn flip_bit(&self, name: &str, offset: u64, bit: u8) -> io::Result<()> {
        let mut disk = self.disk();
        let id = *disk.names.get(name).ok_or_else(|| not_found(name))?;
        let file = disk.files.get_mut(&id).ok_or_else(|| not_found(name))?;
        let offset = offset as usize;
        if offset >= file.current.len() {
            return Err(not_found(name));
        }
        file.current[offset] ^= 1 << (bit % 8);
        if offset < file.durable.len() {
            file.durable[offset] ^= 1 << (bit % 8);
        }
        Ok(())
    }

    /// From now on, only `bytes` more may be written (including growth by `set_len`); then
    /// writes fail as a full disk. `None` lifts the limit.
    pub fn set_space_left(&self, bytes: Option<u64>) {
        self.disk().space_left = bytes;
    }

    /// Makes every later sync fail (`true`) or succeed again (`false`).
    pub fn set_fail_syncs(&self, fail: bool) {
        self.disk().fail_syncs = fail;
    }

    /// Removes `name` durably, as an operator deleting a file would.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if there is none.
    pub fn delete_durably(&self, name: &str) -> io::Result<()> {
        let mut disk = self.disk();
        disk.names.remove(name).ok_or_else(|| not_found(name))?;
        disk.durable_names.remove(name);
        Ok(())
    }

    fn file(&self, name: &str) -> io::Result<u64> {
        self.live_disk()?
            .names
            .get(name)
            .copied()
            .ok_or_else(|| not_found(name))
    }
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl Disk {
    fn spend(&mut self, bytes: u64) -> io::Result<()> {
        if let Some(left) = self.space_left {
            if bytes > left {
                self.space_left = Some(0);
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "simulated disk is full",
                ));
            }
            self.space_left = Some(left - bytes);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Handle {
    storage: SimulatedStorage,
    id: u64,
}

impl StorageFile for Handle {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut disk = self.storage.live_disk()?;
        let file_len = disk
            .files
            .get(&self.id)
            .map_or(0, |file| file.current.len());
        let growth = (offset as usize + bytes.len()).saturating_sub(file_len);
        disk.spend(growth as u64)?;
        let file = disk.files.entry(self.id).or_default();
        let end = offset as usize + bytes.len();
        if file.current.len() < end {
            file.current.resize(end, 0);
        }
        file.current[offset as usize..end].copy_from_slice(bytes);
        file.unsynced_writes.push((offset, bytes.to_vec()));
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut disk = self.storage.live_disk()?;
        let file_len = disk
            .files
            .get(&self.id)
            .map_or(0, |file| file.current.len());
        disk.spend((len as usize).saturating_sub(file_len) as u64)?;
        let file = disk.files.entry(self.id).or_default();
        file.current.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut disk = self.storage.live_disk()?;
        if disk.fail_syncs {
            return Err(io::Error::other("simulated sync failure"));
        }
        let file = disk.files.entry(self.id).or_default();
        file.durable = file.current.clone();
        file.unsynced_writes.clear();
        Ok(())
    }
}

#[derive(Debug)]
struct SimulatedLock(SimulatedStorage);

impl LockGuard for SimulatedLock {}

impl Drop for SimulatedLock {
    fn drop(&mut self) {
        // A crashed process's lock is already gone; it must not release the survivor's.
        if let Ok(mut disk) = self.0.live_disk() {
            disk.locked = false;
        }
    }
}

impl Storage for SimulatedStorage {
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut disk = self.live_disk()?;
        let id = disk.next_id;
        disk.next_id += 1;
        disk.files.insert(id, SimulatedFile::default());
        disk.names.insert(name.to_owned(), id);
        drop(disk);
        Ok(Box::new(Handle {
            storage: self.clone(),
            id,
        }))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let id = self.file(name)?;
        Ok(Box::new(Handle {
            storage: self.clone(),
            id,
        }))
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let id = self.file(name)?;
        Ok(self
            .live_disk()?
            .files
            .get(&id)
            .map(|file| file.current.clone())
            .unwrap_or_default())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.live_disk()?.names.keys().cloned().collect())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.live_disk()?
            .names
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut disk = self.live_disk()?;
        let id = disk.names.remove(from).ok_or_else(|| not_found(from))?;
        disk.names.insert(to.to_owned(), id);
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut disk = self.live_disk()?;
        if disk.fail_syncs {
            return Err(io::Error::other("simulated sync failure"));
        }
        disk.durable_names = disk.names.clone();
        Ok(())
    }

    fn lock(&self) -> io::Result<Box<dyn LockGuard>> {
        let mut disk = self.live_disk()?;
        if disk.locked {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the simulated journal directory is locked",
            ));
        }
        disk.locked = true;
        Ok(Box::new(SimulatedLock(self.clone())))
    }

    fn location(&self) -> String {
        "simulated storage".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_loses_what_was_not_synced_and_can_tear_the_last_write() {
        let storage = SimulatedStorage::new();
        let mut file = storage.create("f").expect("create");
        file.write_at(0, b"durable").expect("write");
        file.sync_data().expect("sync");
        storage.sync_dir().expect("sync dir");
        file.write_at(7, b"+lost").expect("write");
        let _ = storage.create("unsynced-name").expect("create");
        let (storage, _) = storage.crash(None);
        assert_eq!(storage.read("f").expect("read"), b"durable");
        assert_eq!(storage.list().expect("list"), vec!["f".to_owned()]);

        let mut file = storage.open("f").expect("open");
        file.write_at(7, b"01234").expect("write");
        file.write_at(12, b"56789").expect("write");
        let stale = storage.clone();
        let (storage, loss) = storage.crash(Some(0.7));
        assert_eq!(loss.unsynced_bytes_kept, 7);
        assert_eq!(storage.read("f").expect("read"), b"durable0123456");
        assert!(
            stale.read("f").is_err(),
            "the crashed process's handle is dead"
        );
        assert!(file.write_at(0, b"x").is_err(), "and so are its open files");
    }

    #[test]
    fn a_kill_keeps_unsynced_writes_until_a_crash_loses_them() {
        let storage = SimulatedStorage::new();
        let _lock = storage.lock().expect("lock");
        let mut file = storage.create("f").expect("create");
        storage.sync_dir().expect("sync dir");
        file.write_at(0, b"written").expect("write");
        let _ = storage.create("unsynced-name").expect("create");
        let killed = storage.kill();
        assert!(
            file.write_at(0, b"x").is_err(),
            "the killed process's files are dead"
        );
        assert_eq!(killed.read("f").expect("read"), b"written");
        assert_eq!(killed.list().expect("list").len(), 2);
        killed.lock().expect("the kill released the lock");
        let (crashed, loss) = killed.crash(None);
        assert_eq!(loss.files_with_lost_writes, 1);
        assert_eq!(
            crashed.read("f").expect("read"),
            b"",
            "its data was never synced"
        );
        assert_eq!(crashed.list().expect("list"), vec!["f".to_owned()]);
    }

    #[test]
    fn a_full_disk_refuses_writes_and_a_held_lock_refuses_a_second() {
        let storage = SimulatedStorage::new();
        storage.set_space_left(Some(4));
        let mut file = storage.create("f").expect("create");
        let error = file.write_at(0, b"too long").expect_err("full");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        let lock = storage.lock().expect("lock");
        assert_eq!(
            storage.lock().expect_err("second").kind(),
            io::ErrorKind::WouldBlock
        );
        drop(lock);
        storage.lock().expect("relock");
    }
}
