//! Rows and typed column access.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::DataRowBody;
use postgres_types::{FromSql, Kind, Type};
use smallvec::SmallVec;

use crate::driver::statement::{Column, Statement};
use crate::error::{Error, ErrorKind, Result};

/// One result row. Values are decoded on access, from the binary wire format.
pub struct Row {
    statement: Statement,
    body: DataRowBody,
    /// Inline up to 8 columns, so a typical row costs no allocation of its own.
    ranges: SmallVec<[Option<Range<usize>>; 8]>,
}

mod sealed {
    pub trait Sealed {}
}

/// Something that picks a column: its index (`usize`) or its name (`&str`).
pub trait RowIndex: sealed::Sealed + fmt::Display {
    #[doc(hidden)]
    fn __idx(&self, columns: &[Column]) -> Option<usize>;
}

impl sealed::Sealed for usize {}
impl RowIndex for usize {
    fn __idx(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl sealed::Sealed for str {}
impl RowIndex for str {
    fn __idx(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name() == self)
    }
}

impl<T: ?Sized + RowIndex> sealed::Sealed for &T {}
impl<T: ?Sized + RowIndex> RowIndex for &T {
    fn __idx(&self, columns: &[Column]) -> Option<usize> {
        (**self).__idx(columns)
    }
}

/// A domain's values are sent in its base type's format, also as array elements: an
/// array of a domain reads as an array of the domain's base type.
pub(crate) fn base_type(ty: &Type) -> Cow<'_, Type> {
    match ty.kind() {
        Kind::Domain(base) => base_type(base),
        Kind::Array(member) => match base_type(member) {
            Cow::Borrowed(m) if m == member => Cow::Borrowed(ty),
            m => Cow::Owned(Type::new(
                ty.name().to_owned(),
                ty.oid(),
                Kind::Array(m.into_owned()),
                ty.schema().to_owned(),
            )),
        },
        _ => Cow::Borrowed(ty),
    }
}

/// For an array of a domain: the element OID the server expects in the array header,
/// where encoding through [`base_type`] wrote the base type's.
pub(crate) fn domain_array_element(ty: &Type) -> Option<postgres_types::Oid> {
    match ty.kind() {
        Kind::Array(member) if matches!(member.kind(), Kind::Domain(_)) => Some(member.oid()),
        _ => None,
    }
}

impl Row {
    pub(crate) fn new(statement: Statement, body: DataRowBody) -> Result<Row> {
        let mut ranges = SmallVec::new();
        let mut it = body.ranges();
        while let Some(r) = it.next().map_err(|e| Error::io("parsing a data row", e))? {
            ranges.push(r);
        }
        Ok(Row {
            statement,
            body,
            ranges,
        })
    }

    /// Column `i` as the server sent it (binary format), `None` for NULL.
    pub(crate) fn raw(&self, i: usize) -> Option<&[u8]> {
        self.ranges
            .get(i)
            .cloned()
            .flatten()
            .map(|r| &self.body.buffer()[r])
    }

    /// The size of the row's column data.
    pub(crate) fn raw_len(&self) -> usize {
        self.body.buffer().len()
    }

    /// The result columns.
    pub fn columns(&self) -> &[Column] {
        self.statement.columns()
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True if the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Decodes a column; panics if the column is missing or of another type, like
    /// rust-postgres. Use [`Row::try_get`] to handle those cases.
    #[track_caller]
    pub fn get<'a, I, T>(&'a self, idx: I) -> T
    where
        I: RowIndex,
        T: FromSql<'a>,
    {
        match self.try_get(&idx) {
            Ok(v) => v,
            Err(e) => panic!("error retrieving column {idx}: {e}"),
        }
    }

    /// Decodes a column, or says why it cannot.
    pub fn try_get<'a, I, T>(&'a self, idx: I) -> Result<T>
    where
        I: RowIndex,
        T: FromSql<'a>,
    {
        let i = idx.__idx(self.columns()).ok_or_else(|| {
            Error::new(ErrorKind::ColumnNotFound, format!("no column {idx}"), None)
        })?;
        let column = &self.columns()[i];
        let ty = base_type(column.type_());
        let ty = &*ty;
        if !T::accepts(ty) {
            return Err(Error::new(
                ErrorKind::FromSql,
                format!(
                    "column `{}` has type {} which cannot be read as {}",
                    column.name(),
                    column.type_(),
                    std::any::type_name::<T>()
                ),
                None,
            ));
        }
        let raw = self.ranges[i].clone().map(|r| &self.body.buffer()[r]);
        T::from_sql_nullable(ty, raw).map_err(|e| {
            Error::new(
                ErrorKind::FromSql,
                format!(
                    "column `{}` ({}) as {}",
                    column.name(),
                    column.type_(),
                    std::any::type_name::<T>()
                ),
                Some(e),
            )
        })
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row")
            .field("columns", &self.columns())
            .finish()
    }
}
