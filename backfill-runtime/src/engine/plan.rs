//! What a run would do, read-only: the source key span, estimated keys and batches, the first
//! range, and the engine's plan of the first batch's upsert (`EXPLAIN`, without running it);
//! and, apart from it because it reads a whole range, how the ranges read the source
//! ([`crate::access`]).

use super::{Conn, DecodeAs, Driver};
use crate::access::SourceAccess;
use crate::batch::{key_span, ranged};
use crate::definition::{Definition, KeyKind, Statements, Strategy};
use crate::error::Error;
use crate::options::{Plan, RunOptions};
use crate::sizing::BatchSizer;
use crate::value::{Key, KeyValue};

/// The ranges a run would start with: the key span, the estimated keys, and the first range
/// (its upper bound and key count).
struct FirstRanges {
    span: Option<(KeyValue, KeyValue)>,
    estimated_keys: Option<u64>,
    first_range: Option<(Key, u64)>,
}

/// The error context of a read done while planning.
fn planning<D: Driver>(def: &Definition, doing: &str) -> impl FnOnce(sqlx::Error) -> Error {
    let context = format!("planning {} on {}: {doing}", def.table, D::ENGINE);
    move |e| Error::database(context, e)
}

fn definition_broken(def: &Definition) -> impl Fn(String) -> Error + '_ {
    |problem| Error::Definition {
        name: def.name.to_string(),
        problem,
    }
}

/// Reads the key span and finds the first range of `batch_size` keys.
async fn first_ranges<D: Driver>(
    conn: &mut Conn<D>,
    def: &'static Definition,
    stmts: &'static Statements,
    batch_size: u64,
) -> Result<FirstRanges, Error> {
    let kinds = super::key_kinds(def);
    let first_kind = kinds.first().copied().unwrap_or(KeyKind::Int);
    let span = key_span::<D>(conn, stmts, first_kind)
        .await
        .map_err(planning::<D>(def, "reading the source key span"))?;
    let estimated_keys = match (&span, kinds.as_slice()) {
        (Some((KeyValue::Int(min), KeyValue::Int(max))), [KeyKind::Int]) => {
            Some(u64::try_from(i128::from(*max) - i128::from(*min) + 1).unwrap_or(u64::MAX))
        }
        _ => None,
    };

    let bounds = ranged(&stmts.bounds, None);
    let binds = super::bind_params(bounds.params, None, None, batch_size)
        .map_err(definition_broken(def))?;
    let mut cols: Vec<DecodeAs> = kinds.iter().map(|k| DecodeAs::from(*k)).collect();
    cols.push(DecodeAs::Int);
    let rows = D::fetch_all(conn, bounds.sql, &binds, &cols)
        .await
        .map_err(planning::<D>(def, "finding the first range"))?;
    let first_range = rows.first().and_then(|row| {
        let hi = super::row_key(row, &kinds)?;
        let keys = row[kinds.len()].int().and_then(|n| u64::try_from(n).ok())?;
        Some((hi, keys))
    });
    Ok(FirstRanges {
        span,
        estimated_keys,
        first_range,
    })
}

/// What `plan` and `access_path` both start from: a connection, the engine's statements, the
/// batch sizer (its first size, and the largest it grows to), and the first ranges found on
/// that connection.
async fn opened<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<
    (
        sqlx::pool::PoolConnection<D::Db>,
        &'static Statements,
        BatchSizer,
        FirstRanges,
    ),
    Error,
> {
    let stmts = super::statements(def, D::ENGINE)?;
    let sizer = BatchSizer::new(def, options);
    let batch_size = sizer.size();
    let mut conn = pool
        .acquire()
        .await
        .map_err(planning::<D>(def, "connecting"))?;
    let ranges = first_ranges::<D>(&mut conn, def, stmts, batch_size).await?;
    Ok((conn, stmts, sizer, ranges))
}

/// [`BackfillPool::plan`](crate::pool::BackfillPool::plan) on any engine, with the strategy
/// a run would use and why (`crate::scan::planned`).
pub(crate) async fn plan<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
    (strategy, strategy_reason): (Strategy, String),
) -> Result<Plan, Error> {
    let (mut conn, stmts, sizer, ranges) = opened::<D>(pool, def, options).await?;
    let batch_size = sizer.size();
    let conn: &mut Conn<D> = &mut conn;
    let FirstRanges {
        span,
        estimated_keys,
        first_range,
    } = ranges;

    let explain = match &first_range {
        Some((hi, _)) => {
            // The statement as the run executes it: its holes filled from the catalog.
            let (upsert, _) =
                crate::access::pin::filled_and_pinned::<D>(conn, def, &stmts.upsert).await?;
            let upsert = upsert.pick(None);
            let binds = super::bind_params(upsert.stmt.params, None, Some(hi), batch_size)
                .map_err(definition_broken(def))?;
            D::explain(conn, &upsert.sql, &binds)
                .await
                .map_err(planning::<D>(def, "explaining the first batch's upsert"))?
        }
        None => "the source has no keys: nothing to run".to_string(),
    };

    Ok(Plan {
        strategy,
        strategy_reason,
        key_span: span,
        estimated_keys,
        batch_size,
        estimated_batches: estimated_keys.map(|keys| keys.div_ceil(batch_size.max(1))),
        first_range,
        explain,
    })
}

/// [`BackfillPool::access_path`](crate::pool::BackfillPool::access_path) on any engine: the
/// first range found as `plan` finds it, then read and analysed.
pub(crate) async fn access_path<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<SourceAccess, Error> {
    analysed::<D>(pool, def, options, true).await
}

/// The access path as `access_path` reads it, without reading and timing a range: what
/// `strategy = "auto"` decides on before a run.
pub(crate) async fn access_path_untimed<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<SourceAccess, Error> {
    analysed::<D>(pool, def, options, false).await
}

/// The first range found as `plan` finds it, then analysed (and, when `timed`, read).
async fn analysed<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
    timed: bool,
) -> Result<SourceAccess, Error> {
    let (mut conn, stmts, sizer, ranges) = opened::<D>(pool, def, options).await?;
    let conn: &mut Conn<D> = &mut conn;
    crate::access::analyse::access_path::<D>(
        conn,
        def,
        stmts,
        &sizer,
        ranges.first_range.as_ref(),
        ranges.estimated_keys,
        timed,
    )
    .await
}
