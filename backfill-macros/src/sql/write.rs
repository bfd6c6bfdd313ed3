//! The writing statements: the upsert of a range (`INSERT ... SELECT ... ON CONFLICT` on
//! PostgreSQL and SQLite, `ON DUPLICATE KEY UPDATE` over a derived table on MySQL) with its
//! merges and unchanged-row guard, and in place the `UPDATE` of absolute values (own rows or
//! joined to the source).

use super::{Binder, Range, StatementWriter};
use crate::model::{Column, Engine, Merge};

impl<'m> StatementWriter<'m> {
    pub(super) fn insert_columns(&self) -> String {
        self.model
            .columns
            .iter()
            .map(|c| self.quoted(&c.column))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The recompute's SELECT list and source, shared by the upserts: `expr, ...` (aliased
    /// when `alias` is set, as the MySQL derived table needs).
    pub(super) fn recompute(&self, alias: bool, range: Range, b: &mut Binder) -> String {
        let select: Vec<String> = self
            .model
            .columns
            .iter()
            .map(|c| {
                let src = self.source(c);
                if alias {
                    format!("{src} AS {}", self.quoted(&c.column))
                } else {
                    src
                }
            })
            .collect();
        let source_where = self.source_where(range, b);
        format!(
            "SELECT {}{}{}{}",
            select.join(", "),
            self.from(),
            source_where,
            self.group_by()
        )
    }

    /// Columns the upsert updates, with how (`keep` and key columns are left out).
    pub(super) fn updated(&self) -> Vec<&'m Column> {
        if self.model.write_once {
            return Vec::new();
        }
        self.model
            .value_columns()
            .filter(|c| c.merge != Merge::Keep)
            .collect()
    }

    /// The new value of an updated column, given how to name the stored and the new value.
    pub(super) fn merged(&self, c: &Column, old: &str, new: &str) -> String {
        let (pick, nulls) = match (c.merge, self.engine) {
            (Merge::Greatest, Engine::Sqlite) => ("max", true),
            (Merge::Least, Engine::Sqlite) => ("min", true),
            (Merge::Greatest, _) => ("GREATEST", true),
            (Merge::Least, _) => ("LEAST", true),
            (Merge::Overwrite | Merge::Keep, _) => ("", false),
        };
        if nulls {
            // GREATEST/LEAST are NULL on MySQL (and SQLite's max/min) as soon as one side
            // is: COALESCE keeps the side that is not.
            format!("COALESCE({pick}({old}, {new}), {old}, {new})")
        } else {
            new.to_string()
        }
    }

    /// The upsert of a range (in place: the update).
    pub(super) fn upsert(&self, (range, b): (Range, &mut Binder)) -> String {
        if self.model.in_place {
            return self.update(range, b);
        }
        match self.engine {
            Engine::Postgres | Engine::Sqlite => self.insert_on_conflict(range, b),
            Engine::MySql => self.insert_on_duplicate_key(range, b),
        }
    }

    /// PostgreSQL: the upsert of a range without its conflict clause, for a range that holds
    /// no target row yet (`Statements::insert`); empty on the other engines and in place.
    pub(super) fn insert(&self, (range, b): (Range, &mut Binder)) -> String {
        if self.model.in_place || self.engine != Engine::Postgres {
            return String::new();
        }
        self.insert_select(range, b)
    }

    /// `INSERT INTO target AS __t (columns) SELECT ...`: the upsert up to its conflict clause.
    fn insert_select(&self, range: Range, b: &mut Binder) -> String {
        let table = self.table();
        let cols = self.insert_columns();
        let t = self.quoted("__t");
        let select = self.recompute(false, range, b);
        format!("INSERT INTO {table} AS {t} ({cols}) {select}")
    }

    /// PostgreSQL and SQLite: `INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE ... WHERE`
    /// some value differs.
    pub(super) fn insert_on_conflict(&self, range: Range, b: &mut Binder) -> String {
        let updated = self.updated();
        let t = self.quoted("__t");
        let excluded = if self.engine == Engine::Postgres {
            "EXCLUDED"
        } else {
            "excluded"
        };
        let insert = self.insert_select(range, b);
        let conflict: Vec<String> = self.keys.iter().map(|c| self.quoted(&c.column)).collect();
        let action = if updated.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let set: Vec<(String, String, String)> = updated
                .iter()
                .map(|c| {
                    let col = self.quoted(&c.column);
                    let value = self.merged(c, &format!("{t}.{col}"), &format!("{excluded}.{col}"));
                    (col.clone(), format!("{t}.{col}"), value)
                })
                .collect();
            let assignments: Vec<String> =
                set.iter().map(|(c, _, v)| format!("{c} = {v}")).collect();
            // Only rows whose values change are rewritten: no new row version, no WAL.
            // Compared exactly, never by the column's collation or type equality.
            let guard = set
                .iter()
                .map(|(_, o, v)| self.distinct(o, v))
                .collect::<Vec<_>>()
                .join(" OR ");
            format!("DO UPDATE SET {} WHERE {guard}", assignments.join(", "))
        };
        format!("{insert} ON CONFLICT ({}) {action}", conflict.join(", "))
    }

    /// MySQL: `INSERT ... SELECT` from the recompute as a derived table `n`, `ON DUPLICATE KEY
    /// UPDATE`.
    pub(super) fn insert_on_duplicate_key(&self, range: Range, b: &mut Binder) -> String {
        let table = self.table();
        let cols = self.insert_columns();
        let updated = self.updated();
        let n = self.quoted("n");
        let select = self.recompute(true, range, b);
        let outer: Vec<String> = self
            .model
            .columns
            .iter()
            .map(|c| format!("{n}.{}", self.quoted(&c.column)))
            .collect();
        // The stored value is named through the table: a bare name would be ambiguous
        // with the derived table's column of the same name.
        let assignments: Vec<String> = if updated.is_empty() {
            // A no-op update, never INSERT IGNORE (which also ignores other errors).
            self.keys
                .iter()
                .take(1)
                .map(|c| {
                    let col = self.quoted(&c.column);
                    format!("{col} = {table}.{col}")
                })
                .collect()
        } else {
            updated
                .iter()
                .map(|c| {
                    let col = self.quoted(&c.column);
                    let value = self.merged(c, &format!("{table}.{col}"), &format!("{n}.{col}"));
                    format!("{col} = {value}")
                })
                .collect()
        };
        format!(
            "INSERT INTO {table} ({cols}) SELECT {} FROM ({select}) AS {n} ON DUPLICATE KEY UPDATE {}",
            outer.join(", "),
            assignments.join(", ")
        )
    }

    /// In place: an UPDATE of absolute values over a key range of the target's existing rows,
    /// guarded so a row whose values would not change is not rewritten (no row version, no
    /// binary log event; a re-run writes nothing). From the target's own rows, a single-table
    /// UPDATE whose expressions read only columns it does not write (so MySQL's left-to-right
    /// evaluation of the SET list sees the same values PostgreSQL's does); from another
    /// source, the target joined to the recompute of the range grouped per key (MySQL: a
    /// derived table, materialized, so the target may appear in `from` without error 1093).
    pub(super) fn update(&self, range: Range, b: &mut Binder) -> String {
        let joined = self.model.from.is_some();
        let (sets, guard) = self.update_assignments(joined, b);
        if joined {
            self.update_joined(&sets, &guard, range, b)
        } else {
            self.update_own_rows(&sets, &guard, range, b)
        }
    }

    /// The SET list of an in-place update, and the guard that skips a row whose values would
    /// not change (`joined`: the new values come from the recompute `__s`).
    pub(super) fn update_assignments(&self, joined: bool, b: &mut Binder) -> (Vec<String>, String) {
        let (t, s) = (self.quoted("__t"), self.quoted("__s"));
        let mut sets = Vec::new();
        let mut guards = Vec::new();
        for (i, c) in self.model.columns.iter().enumerate() {
            if c.key.is_some() {
                continue;
            }
            let col = self.quoted(&c.column);
            let (old, new) = if joined {
                (
                    format!("{t}.{col}"),
                    format!("{s}.{}", self.quoted(&format!("__v{i}"))),
                )
            } else {
                (col.clone(), format!("({})", self.source(c)))
            };
            let value = match c.merge {
                Merge::Overwrite => new.clone(),
                Merge::Greatest | Merge::Least => self.merged(c, &old, &new),
                Merge::Keep => format!("CASE WHEN {old} IS NULL THEN {new} ELSE {old} END"),
            };
            guards.push(match c.merge {
                // Written once, where it is NULL: a volatile value is never replaced.
                Merge::Keep => format!("({old} IS NULL AND {new} IS NOT NULL)"),
                _ => {
                    let stored_as = match self.engine {
                        Engine::Postgres | Engine::MySql => b.hole(i, &col, value.clone()),
                        Engine::Sqlite => value.clone(),
                    };
                    self.distinct(&old, &stored_as)
                }
            });
            let target = if joined && self.engine == Engine::MySql {
                format!("{t}.{col}")
            } else {
                col
            };
            sets.push(format!("{target} = {value}"));
        }
        (sets, format!("({})", guards.join(" OR ")))
    }

    /// From the target's own rows: a single-table UPDATE over the key range.
    pub(super) fn update_own_rows(
        &self,
        sets: &[String],
        guard: &str,
        range: Range,
        b: &mut Binder,
    ) -> String {
        let keys = self.key_sources();
        let mut conds = Vec::new();
        if let Some(filter) = &self.model.filter {
            conds.push(format!("({filter})"));
        }
        conds.extend(self.range(&keys, range, b));
        conds.push(guard.to_string());
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.table(),
            sets.join(", "),
            conds.join(" AND ")
        )
    }

    /// From another source: the target joined to the recompute of the range, grouped per key.
    pub(super) fn update_joined(
        &self,
        sets: &[String],
        guard: &str,
        range: Range,
        b: &mut Binder,
    ) -> String {
        let table = self.table();
        let (t, s) = (self.quoted("__t"), self.quoted("__s"));
        let keys = self.key_sources();
        let mut select: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} AS {}", self.key_alias(i)))
            .collect();
        select.extend(
            self.model
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.key.is_none())
                .map(|(i, c)| format!("{} AS {}", self.source(c), self.quoted(&format!("__v{i}")))),
        );
        // MySQL merges a derived table without DISTINCT or GROUP BY into the UPDATE, and then
        // refuses a `from` that reads the target (error 1093); DISTINCT keeps it materialized.
        let distinct = if self.engine == Engine::MySql && !self.model.grouped {
            "DISTINCT "
        } else {
            ""
        };
        let source_where = self.source_where(range, b);
        let recompute = format!(
            "SELECT {distinct}{}{}{source_where}{}",
            select.join(", "),
            self.from(),
            self.group_by()
        );
        let on: Vec<String> = self
            .target_keys()
            .iter()
            .enumerate()
            .map(|(i, tk)| format!("{tk} = {s}.{}", self.key_alias(i)))
            .collect();
        match self.engine {
            Engine::MySql => format!(
                "UPDATE {table} AS {t} JOIN ({recompute}) AS {s} ON {} SET {} WHERE {guard}",
                on.join(" AND "),
                sets.join(", ")
            ),
            Engine::Postgres | Engine::Sqlite => format!(
                "UPDATE {table} AS {t} SET {} FROM ({recompute}) AS {s} WHERE {} AND {guard}",
                sets.join(", "),
                on.join(" AND ")
            ),
        }
    }
}
