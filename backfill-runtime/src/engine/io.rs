//! The runtime's values ([`Value`]) and how it reads result columns ([`DecodeAs`]); binding
//! values into a query and decoding rows into them, written once, generic over
//! [`sqlx::Database`]. [`SqlxIo`] is what the runtime needs of a sqlx database (encode and
//! decode `i64`, text, bytes and UTC times; run a query on a connection) and has one blanket
//! impl, so every engine gets it; what differs per engine (unsigned integers, key text, the
//! affected-row count) are [`Driver`] methods.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row as _, Type};

use super::Driver;
use crate::definition::KeyKind;
use crate::value::KeyValue;

/// A query of database `DB` with its arguments (as `sqlx::query` builds it).
pub(crate) type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments>;

/// The operations the runtime needs of a sqlx database, each a bound of the blanket impl below,
/// so generic code over a [`Driver`] never repeats those bounds.
pub(crate) trait SqlxIo: Database {
    /// Binds SQL NULL (as text: every engine accepts it wherever NULL goes).
    fn bind_null(q: Query<'_, Self>) -> Query<'_, Self>;
    /// Binds a signed integer.
    fn bind_int(q: Query<'_, Self>, i: i64) -> Query<'_, Self>;
    /// Binds text.
    fn bind_text<'q>(q: Query<'q, Self>, s: &str) -> Query<'q, Self>;
    /// Binds a binary string.
    fn bind_bytes<'q>(q: Query<'q, Self>, b: &[u8]) -> Query<'q, Self>;
    /// Binds a point in time.
    fn bind_time(q: Query<'_, Self>, t: DateTime<Utc>) -> Query<'_, Self>;

    /// Column `i` as a signed integer (`None` for NULL).
    fn int_at(row: &Self::Row, i: usize) -> Result<Option<i64>, sqlx::Error>;
    /// Column `i` as text.
    fn text_at(row: &Self::Row, i: usize) -> Result<Option<String>, sqlx::Error>;
    /// Column `i` as a binary string.
    fn bytes_at(row: &Self::Row, i: usize) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// Column `i` as a point in time.
    fn time_at(row: &Self::Row, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error>;

    /// Runs `q` on `conn`, returning every row.
    fn fetch_rows<'c>(
        conn: &'c mut Self::Connection,
        q: Query<'c, Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'c;

    /// Runs `q` on `conn`, returning the engine's result (its affected-row count is read by
    /// [`Driver::rows_affected`]: sqlx has no trait for it).
    fn run<'c>(
        conn: &'c mut Self::Connection,
        q: Query<'c, Self>,
    ) -> impl Future<Output = Result<Self::QueryResult, sqlx::Error>> + Send + 'c;
}

impl<DB> SqlxIo for DB
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    usize: ColumnIndex<DB::Row>,
    for<'t> i64: Encode<'t, DB> + Decode<'t, DB>,
    i64: Type<DB>,
    for<'t> &'t str: Encode<'t, DB>,
    for<'t> String: Encode<'t, DB> + Decode<'t, DB>,
    for<'t> Option<String>: Encode<'t, DB>,
    str: Type<DB>,
    String: Type<DB>,
    for<'t> &'t [u8]: Encode<'t, DB>,
    for<'t> Vec<u8>: Decode<'t, DB>,
    [u8]: Type<DB>,
    Vec<u8>: Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Decode<'t, DB>,
    DateTime<Utc>: Type<DB>,
{
    fn bind_null(q: Query<'_, Self>) -> Query<'_, Self> {
        q.bind(None::<String>)
    }

    fn bind_int(q: Query<'_, Self>, i: i64) -> Query<'_, Self> {
        q.bind(i)
    }

    fn bind_text<'q>(q: Query<'q, Self>, s: &str) -> Query<'q, Self> {
        q.bind(s)
    }

    fn bind_bytes<'q>(q: Query<'q, Self>, b: &[u8]) -> Query<'q, Self> {
        q.bind(b)
    }

    fn bind_time(q: Query<'_, Self>, t: DateTime<Utc>) -> Query<'_, Self> {
        q.bind(t)
    }

    fn int_at(row: &Self::Row, i: usize) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(i)
    }

    fn text_at(row: &Self::Row, i: usize) -> Result<Option<String>, sqlx::Error> {
        row.try_get(i)
    }

    fn bytes_at(row: &Self::Row, i: usize) -> Result<Option<Vec<u8>>, sqlx::Error> {
        row.try_get(i)
    }

    fn time_at(row: &Self::Row, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        row.try_get(i)
    }

    fn fetch_rows<'c>(
        conn: &'c mut Self::Connection,
        q: Query<'c, Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'c {
        conn.fetch_all(q)
    }

    fn run<'c>(
        conn: &'c mut Self::Connection,
        q: Query<'c, Self>,
    ) -> impl Future<Output = Result<Self::QueryResult, sqlx::Error>> + Send + 'c {
        conn.execute(q)
    }
}

/// The query `sql` with `binds` bound in order.
pub(crate) fn query<'q, D: Driver>(sql: &str, binds: &[Value]) -> Query<'q, D::Db> {
    binds
        .iter()
        .fold(sqlx::query(super::sql_text::assembled(sql)), bind::<D>)
}

/// Binds one value; unsigned integers and key text the engine's own way.
pub(crate) fn bind<'q, D: Driver>(q: Query<'q, D::Db>, v: &Value) -> Query<'q, D::Db> {
    match v {
        Value::Null => D::Db::bind_null(q),
        Value::Int(i) => D::Db::bind_int(q, *i),
        Value::UInt(u) => D::bind_uint(q, *u),
        Value::Text(s) => D::Db::bind_text(q, s),
        Value::KeyText(s) => D::bind_key_text(q, s),
        Value::Bytes(b) => D::Db::bind_bytes(q, b),
        Value::Time(t) => D::Db::bind_time(q, *t),
    }
}

/// Decodes the first `columns.len()` columns of a row, each as its [`DecodeAs`] says.
pub(crate) fn decode<D: Driver>(
    row: &<D::Db as Database>::Row,
    columns: &[DecodeAs],
) -> Result<Row, sqlx::Error> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            Ok(match column {
                DecodeAs::Int => D::Db::int_at(row, i)?.map_or(Value::Null, Value::Int),
                DecodeAs::UInt => D::decode_uint(row, i)?.map_or(Value::Null, Value::UInt),
                DecodeAs::Text => D::Db::text_at(row, i)?.map_or(Value::Null, Value::Text),
                DecodeAs::Bytes => D::Db::bytes_at(row, i)?.map_or(Value::Null, Value::Bytes),
                DecodeAs::Time => D::Db::time_at(row, i)?.map_or(Value::Null, Value::Time),
            })
        })
        .collect()
}

/// A value bound into a statement, or decoded from a result column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL (decoded only; the runtime writes NULL as a literal).
    Null,
    /// An integer, bound and decoded as `i64`.
    Int(i64),
    /// An unsigned integer, bound and decoded as `u64` (MySQL `BIGINT UNSIGNED` keys).
    UInt(u64),
    /// Text.
    Text(String),
    /// Text that is a key part: compared with a key expression of the key's own type, so on
    /// PostgreSQL it is bound with no declared type and takes the type of what it is compared
    /// with (`citext`, `varchar`, an enum), never `text`, whose comparison would differ.
    KeyText(String),
    /// A binary string.
    Bytes(Vec<u8>),
    /// A point in time (the progress table's timestamps).
    Time(DateTime<Utc>),
}

impl Value {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::Time(t) => Some(*t),
            _ => None,
        }
    }

    /// The value as a key part, if it is one.
    pub(crate) fn key_value(&self) -> Option<KeyValue> {
        match self {
            Value::Int(i) => Some(KeyValue::Int(*i)),
            Value::UInt(u) => Some(KeyValue::UInt(*u)),
            Value::Text(s) | Value::KeyText(s) => Some(KeyValue::Text(s.clone())),
            Value::Bytes(b) => Some(KeyValue::Bytes(b.clone())),
            _ => None,
        }
    }
}

impl From<&KeyValue> for Value {
    fn from(v: &KeyValue) -> Value {
        match v {
            KeyValue::Int(i) => Value::Int(*i),
            KeyValue::UInt(u) => Value::UInt(*u),
            KeyValue::Text(s) => Value::KeyText(s.clone()),
            KeyValue::Bytes(b) => Value::Bytes(b.clone()),
        }
    }
}

/// The Rust type a result column is decoded as, one per column a query's caller reads
/// ([`Driver::fetch_all`]); NULL decodes as [`Value::Null`] whatever the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeAs {
    /// `i64`, as [`Value::Int`].
    Int,
    /// `u64`, as [`Value::UInt`] (the engine's own way: [`Driver::decode_uint`]).
    UInt,
    /// Text, as [`Value::Text`].
    Text,
    /// A binary string, as [`Value::Bytes`].
    Bytes,
    /// A UTC point in time, as [`Value::Time`].
    Time,
}

impl From<KeyKind> for DecodeAs {
    fn from(kind: KeyKind) -> DecodeAs {
        match kind {
            KeyKind::Int => DecodeAs::Int,
            KeyKind::UInt => DecodeAs::UInt,
            KeyKind::Text => DecodeAs::Text,
            KeyKind::Bytes => DecodeAs::Bytes,
        }
    }
}

/// A decoded result row, one [`Value`] per requested [`DecodeAs`].
pub(crate) type Row = Vec<Value>;
