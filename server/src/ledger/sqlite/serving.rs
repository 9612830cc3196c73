//! One serving process per SQLite file. The writer keeps the unique index of spent
//! signatures in its own memory ([`super::spent`]), so a second `serve` on the same file
//! would let a captured request be spent once in each process; `serve` therefore holds an
//! exclusive lock on `<database>-serve.lock` for as long as it runs. The kernel drops it
//! when the process ends, even by kill -9. Admin commands and several stateless instances
//! on PostgreSQL take no such lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct ServingLock {
    _file: File,
}

impl ServingLock {
    /// Takes the lock of the database at `url` for this process, or says which process
    /// serves it already.
    pub fn take(url: &str) -> Result<ServingLock, String> {
        let options = super::store::file_options(url)?;
        let path = lock_path(options.get_filename());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open the serving lock {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                return Err(format!(
                    "the database {} is already served by another credit-sync-server process{holder}: \
                     one process serves a SQLite file (several instances need PostgreSQL); \
                     lock file {}",
                    options.get_filename().display(),
                    path.display()
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
        // Who holds it, for the message a second process prints; the lock is what counts.
        let pid = std::process::id().to_string();
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the pid into the serving lock");
        }
        Ok(ServingLock { _file: file })
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-serve.lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_one_s_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let first = ServingLock::take(&url).unwrap();
        assert!(dir.path().join("t.db-serve.lock").exists());
        // flock belongs to the open file, so a second take in this process is refused too.
        let refused = ServingLock::take(&url).unwrap_err();
        assert!(refused.contains("already served"), "{refused}");
        assert!(
            refused.contains(&format!("(pid {})", std::process::id())),
            "{refused}"
        );
        drop(first);
        let again = ServingLock::take(&url).unwrap();
        drop(again);
    }

    #[test]
    fn an_in_memory_database_is_refused_before_any_lock_file_is_made() {
        let refused = ServingLock::take("sqlite::memory:").unwrap_err();
        assert!(
            refused.contains("in-memory SQLite is not supported"),
            "{refused}"
        );
        assert!(!Path::new(":memory:-serve.lock").exists());
    }
}
