//! The statement that reads no row: the types and collations of the source key expressions
//! and the target key columns, for preflight's key checks.

use super::StatementWriter;
use crate::model::Engine;

impl<'m> StatementWriter<'m> {
    /// Selects nothing: one scalar subquery per source key expression and target key column,
    /// so preflight learns their types and collations from the server without reading a row.
    pub(super) fn key_probe(&self) -> String {
        let t = self.quoted("__t");
        let mut select = Vec::new();
        for (i, c) in self.keys.iter().enumerate() {
            let source = format!("(SELECT {}{} WHERE 1 = 0)", self.source(c), self.from());
            let target = format!(
                "(SELECT {t}.{} FROM {} AS {t} WHERE 1 = 0)",
                self.quoted(&c.column),
                self.table()
            );
            let (s, tt) = (
                self.quoted(&format!("__s{i}")),
                self.quoted(&format!("__t{i}")),
            );
            match self.engine {
                Engine::Postgres => select.extend([
                    format!("CAST(CAST(pg_typeof({source}) AS OID) AS BIGINT) AS {s}"),
                    format!("CAST(CAST(pg_typeof({target}) AS OID) AS BIGINT) AS {tt}"),
                    format!("pg_collation_for(CAST({source} AS TEXT))"),
                    format!("pg_collation_for(CAST({target} AS TEXT))"),
                ]),
                Engine::MySql => select.extend([
                    format!("{source} AS {s}"),
                    format!("{target} AS {tt}"),
                    format!("COLLATION({source})"),
                    format!("COLLATION({target})"),
                ]),
                Engine::Sqlite => {
                    select.extend([format!("{source} AS {s}"), format!("{target} AS {tt}")])
                }
            }
        }
        format!("SELECT {}", select.join(", "))
    }
}
