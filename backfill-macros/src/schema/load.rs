//! Where the migrations are and what they say: the directory (`migrations = "..."` on the struct,
//! or `migrations/` beside the crate's Cargo.toml), one subdirectory per engine when the layouts
//! differ (`migrations/postgres/`, `migrations/mysql/`, `migrations/sqlite/`), files in sqlx's
//! layout (`<version>_<name>.sql`, or `.up.sql` with its `.down.sql`) replayed in version order.

use std::path::{Path, PathBuf};

use super::{replay, Schema};
use crate::model::Engine;

/// The schema per engine, and every file read (for Cargo's rebuild tracking).
#[derive(Debug, Default)]
pub struct Loaded {
    /// One schema per checked engine, in the order asked.
    pub schemas: Vec<(Engine, Schema)>,
}

/// A migration that cannot be read or replayed: the file, the line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationError {
    /// `migrations/0002_add_total.sql:14`, or the directory.
    pub place: String,
    /// What went wrong; `None`: the directory does not exist.
    pub message: Option<String>,
}

thread_local! {
    /// Every migration file this expansion read, for [`take_read_files`].
    static READ: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The absolute paths of the migration files read since the last call (one derive's worth).
pub fn take_read_files() -> Vec<String> {
    READ.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// The crate's root: `BACKFILL_MANIFEST_DIR` when set (the ui tests point it at this
/// repository, since trybuild builds each case in a crate of its own), else Cargo's
/// `CARGO_MANIFEST_DIR`.
fn manifest_dir() -> PathBuf {
    std::env::var_os("BACKFILL_MANIFEST_DIR")
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Reads and replays the migrations for `engines`. `explicit` is the struct's `migrations =
/// "..."` (relative to the crate's root), else the crate-wide `BACKFILL_MIGRATIONS`; without
/// either, `migrations/` is used when it exists and `Ok(None)` says there is nothing to check
/// against.
pub fn load(explicit: Option<&str>, engines: &[Engine]) -> Result<Option<Loaded>, MigrationError> {
    let root = manifest_dir();
    // The crate-wide setting: `BACKFILL_MIGRATIONS` (e.g. in `.cargo/config.toml`'s `[env]`).
    let crate_wide = std::env::var("BACKFILL_MIGRATIONS")
        .ok()
        .filter(|p| !p.trim().is_empty());
    let explicit = explicit.map(str::to_string).or(crate_wide);
    let (dir, shown) = match &explicit {
        Some(path) => (root.join(path), path.clone()),
        None => (root.join("migrations"), "migrations".to_string()),
    };
    if !dir.is_dir() {
        if explicit.is_some() {
            return Err(MigrationError {
                place: shown,
                message: None,
            });
        }
        return Ok(None);
    }
    let mut loaded = Loaded::default();
    for &engine in engines {
        let own = dir.join(engine.name());
        let (engine_dir, engine_shown) = if own.is_dir() {
            (own, format!("{shown}/{}", engine.name()))
        } else {
            (dir.clone(), shown.clone())
        };
        let files = migration_files(&engine_dir).map_err(|e| MigrationError {
            place: engine_shown.clone(),
            message: Some(e.to_string()),
        })?;
        let mut schema = Schema {
            source: engine_shown.clone(),
            ..Schema::default()
        };
        for (path, name) in files {
            let text = std::fs::read_to_string(&path).map_err(|e| MigrationError {
                place: format!("{engine_shown}/{name}"),
                message: Some(e.to_string()),
            })?;
            let skipped =
                replay::replay(engine, &mut schema, &text).map_err(|(line, message)| {
                    MigrationError {
                        place: format!("{engine_shown}/{name}:{line}"),
                        message: Some(message),
                    }
                })?;
            let shown = |line: usize| format!("{engine_shown}/{name}:{line}");
            schema.skipped.extend(skipped.into_iter().map(shown));
            READ.with(|r| {
                let shown = path.display().to_string();
                if !r.borrow().contains(&shown) {
                    r.borrow_mut().push(shown);
                }
            });
        }
        loaded.schemas.push((engine, schema));
    }
    Ok(Some(loaded))
}

/// The `.sql` files of `dir` (not `.down.sql`), sorted by their numeric version prefix, then
/// by name.
fn migration_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if path.is_file() && name.ends_with(".sql") && !name.ends_with(".down.sql") {
            files.push((path, name));
        }
    }
    let version = |name: &str| -> u128 {
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(u128::MAX)
    };
    files.sort_by(|(_, a), (_, b)| version(a).cmp(&version(b)).then_with(|| a.cmp(b)));
    Ok(files)
}
