//! The offline cache folder: one pretty JSON file per statement.

use std::path::{Path, PathBuf};

use crate::description::{file_name, Description};

/// Name of the cache folder at the workspace root.
pub const DIR_NAME: &str = ".lifeguard-offline";

/// The cache folder to read: `LIFEGUARD_OFFLINE_DIR` if set, otherwise the nearest
/// `.lifeguard-offline` folder in `start` or its ancestors.
pub fn find_dir(start: &Path) -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("LIFEGUARD_OFFLINE_DIR") {
        return Some(PathBuf::from(dir));
    }
    start
        .ancestors()
        .map(|a| a.join(DIR_NAME))
        .find(|d| d.is_dir())
}

/// Reads the entry for `hash`; `Ok(None)` when there is none.
pub fn read(dir: &Path, hash: &str) -> Result<Option<Description>, String> {
    let path = dir.join(file_name(hash));
    match std::fs::read_to_string(&path) {
        Ok(text) => Description::from_json(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a valid offline entry: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes an entry atomically (temp file + rename), so parallel compiler processes never
/// leave a half-written file.
pub fn write(dir: &Path, desc: &Description) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(file_name(&desc.hash));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name(&desc.hash),
        std::process::id()
    ));
    std::fs::write(&tmp, desc.to_json())?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
