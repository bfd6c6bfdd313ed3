//! Schema drift: the live target table against the schema the build checked the mapping
//! against (schema-checked builds record it in [`Definition::schema`]). Migrations and the live
//! database part ways when one is not applied yet, or a hotfix changed a table by hand: preflight
//! still checks the live table, and this says where the two differ, naming each column, so an
//! operator knows which one the compile-time check was wrong about.

use crate::definition::{CheckedSchema, Definition};
use crate::engine::{Conn, Driver, TableName};
use crate::error::Error;

/// One way the live target table differs from what its migrations leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDrift {
    /// The column.
    pub column: String,
    /// How it differs, for people (`in the migrations, not in the live table`).
    pub difference: String,
}

impl std::fmt::Display for SchemaDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.difference)
    }
}

/// The differences between the live target of `def` and the schema its build checked against on
/// `D`'s engine; empty when there was none to check against, or none differ.
pub(crate) async fn schema_drift<D: Driver>(
    conn: &mut Conn<D>,
    def: &'static Definition,
) -> Result<Vec<SchemaDrift>, Error> {
    let Some(checked) = def.checked_schema(D::ENGINE) else {
        return Ok(Vec::new());
    };
    let table = TableName::parse(def.table)?;
    let shape = D::table_shape(conn, &table).await.map_err(|e| {
        Error::database(
            format!(
                "reading the columns of {} on {} to compare them with the migrations",
                def.table,
                D::ENGINE
            ),
            e.source,
        )
    })?;
    let live: Vec<(String, String)> = shape
        .map(|s| {
            s.columns
                .into_iter()
                .map(|c| (c.name, c.base_type))
                .collect()
        })
        .unwrap_or_default();
    Ok(compare(checked, &live))
}

/// The differences between `checked` and the live `(name, base type)` columns.
fn compare(checked: &CheckedSchema, live: &[(String, String)]) -> Vec<SchemaDrift> {
    let mut drift = Vec::new();
    let find = |name: &str| live.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
    for column in checked.columns {
        match find(column.name) {
            None => drift.push(SchemaDrift {
                column: column.name.to_string(),
                difference: format!(
                    "in the migrations of `{}`, not in the live table (a migration not applied yet?)",
                    checked.migrations
                ),
            }),
            Some((_, live_type)) => {
                if let (Some(a), Some(b)) = (family(column.data_type), family(live_type)) {
                    if a != b {
                        drift.push(SchemaDrift {
                            column: column.name.to_string(),
                            difference: format!(
                                "`{}` in the migrations, `{live_type}` in the live table",
                                column.data_type
                            ),
                        });
                    }
                }
            }
        }
    }
    for (name, _) in live {
        if !checked
            .columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(name))
        {
            drift.push(SchemaDrift {
                column: name.clone(),
                difference: format!(
                    "in the live table, not in the migrations of `{}`",
                    checked.migrations
                ),
            });
        }
    }
    drift
}

/// A type's family, from a migration's spelling or a catalog's (`INTEGER` and `int4`,
/// `VARCHAR(255)` and `varchar`, `character varying`); `None` when not told apart here.
fn family(data_type: &str) -> Option<&'static str> {
    let lower = data_type.to_ascii_lowercase();
    let base = lower
        .split(['(', ' '])
        .next()
        .unwrap_or_default()
        .trim_start_matches('_');
    Some(match base {
        "smallint" | "int2" | "smallserial" => "int16",
        "int" | "integer" | "int4" | "serial" | "mediumint" => "int32",
        "bigint" | "int8" | "bigserial" => "int64",
        "tinyint" => "int8",
        "text" | "varchar" | "character" | "char" | "bpchar" | "citext" | "tinytext"
        | "mediumtext" | "longtext" => "text",
        "bytea" | "blob" | "binary" | "varbinary" | "longblob" | "mediumblob" | "tinyblob" => {
            "bytes"
        }
        "boolean" | "bool" => "bool",
        "real" | "float4" | "float" => "float32",
        "double" | "float8" => "float64",
        "numeric" | "decimal" => "decimal",
        "timestamp" | "timestamptz" | "datetime" => "timestamp",
        "date" => "date",
        "json" => "json",
        "jsonb" => "jsonb",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{CheckedColumn, Engine};

    static COLUMNS: [CheckedColumn; 3] = [
        CheckedColumn {
            name: "user_id",
            data_type: "BIGINT",
            not_null: true,
        },
        CheckedColumn {
            name: "event_count",
            data_type: "INTEGER",
            not_null: true,
        },
        CheckedColumn {
            name: "note",
            data_type: "VARCHAR(20)",
            not_null: false,
        },
    ];
    static CHECKED: CheckedSchema = CheckedSchema {
        engine: Engine::Postgres,
        migrations: "migrations",
        skipped: &[],
        columns: &COLUMNS,
    };

    fn live(columns: &[(&str, &str)]) -> Vec<(String, String)> {
        columns
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn the_same_schema_in_either_spelling_has_no_drift() {
        let same = live(&[
            ("user_id", "int8"),
            ("event_count", "int4"),
            ("note", "varchar"),
        ]);
        assert_eq!(compare(&CHECKED, &same), Vec::new());
    }

    #[test]
    fn every_difference_names_its_column() {
        let other = live(&[
            ("user_id", "int8"),
            ("event_count", "int8"),
            ("extra", "text"),
        ]);
        let drift = compare(&CHECKED, &other);
        let shown: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("column `event_count`: `INTEGER` in the migrations, `int8`"));
        assert!(shown[1].starts_with(
            "column `note`: in the migrations of `migrations`, not in the live table"
        ));
        assert!(shown[2].starts_with("column `extra`: in the live table"));
    }
}
