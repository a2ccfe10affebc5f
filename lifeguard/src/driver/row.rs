//! Rows and typed column access.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use postgres_types::{FromSql, Kind, Type};
use smallvec::SmallVec;

use crate::driver::statement::{Column, Statement};
use crate::error::{Error, ErrorKind, Result};

/// One result row. Values are decoded on access, from the binary wire format.
pub struct Row {
    statement: Statement,
    /// The `DataRow` body: a column count, then each column's length and bytes.
    body: Bytes,
    /// Each column's (offset into `body`, length), the length -1 for NULL. Inline up to 8
    /// columns, so a typical row costs no allocation of its own; 8 bytes a column keep the
    /// row small, and it is moved several times on its way to the caller.
    values: SmallVec<[(u32, i32); 8]>,
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

/// Each column's (offset, length) in a `DataRow` body, checked against the body's size.
fn values(body: &[u8]) -> Result<SmallVec<[(u32, i32); 8]>> {
    let bad = || Error::protocol("malformed DataRow message");
    let (count, mut rest) = body.split_first_chunk::<2>().ok_or_else(bad)?;
    let count = u16::from_be_bytes(*count);
    let mut values = SmallVec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = i32::from_be_bytes(*len);
        let start = u32::try_from(body.len() - tail.len()).map_err(|_| bad())?;
        rest = match len {
            -1 => tail,
            0.. => tail.get(len as usize..).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        values.push((start, len));
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(values)
}

impl Row {
    /// A row from a `DataRow` message's body. Read here in one pass rather than through
    /// postgres-protocol's `DataRowBody`, which parses the message and then its lengths
    /// again: this is the per-row cost of every multi-row result.
    pub(crate) fn parse(statement: Statement, body: Bytes) -> Result<Row> {
        let values = values(&body)?;
        if values.len() != statement.columns().len() {
            return Err(Error::protocol(format!(
                "a DataRow has {} columns where the statement describes {}",
                values.len(),
                statement.columns().len()
            )));
        }
        Ok(Row {
            statement,
            body,
            values,
        })
    }

    /// Column `i` as the server sent it (binary format), `None` for NULL or past the end.
    pub(crate) fn raw(&self, i: usize) -> Option<&[u8]> {
        let &(start, len) = self.values.get(i)?;
        let start = start as usize;
        // A non-negative length was checked against the body in `parse`.
        let len = usize::try_from(len).ok()?;
        Some(&self.body[start..start + len])
    }

    /// The size of the row's column data.
    pub(crate) fn raw_len(&self) -> usize {
        self.body.len() - 2
    }

    /// The result columns.
    pub fn columns(&self) -> &[Column] {
        self.statement.columns()
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
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
        let ty = &column.decode_as;
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
        T::from_sql_nullable(ty, self.raw(i)).map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::values;

    /// A DataRow body from column values, `None` for NULL.
    fn body(cols: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (cols.len() as u16).to_be_bytes().to_vec();
        for c in cols {
            match c {
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    out.extend_from_slice(v);
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        out
    }

    #[test]
    fn reads_values_nulls_and_empty_values() {
        let b = body(&[Some(b"abc"), None, Some(b""), Some(&[0, 0, 0, 7])]);
        let v = values(&b).unwrap();
        assert_eq!(v.as_slice(), &[(6, 3), (13, -1), (17, 0), (21, 4)]);
        assert_eq!(&b[21..25], &[0, 0, 0, 7]);
        assert!(values(&body(&[])).unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_bodies() {
        let good = body(&[Some(b"abc"), None]);
        // Every truncation fails, as do trailing bytes, a length past the end and a
        // negative length other than -1.
        for n in 0..good.len() {
            assert!(values(&good[..n]).is_err(), "truncated to {n} bytes");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(values(&trailing).is_err());
        let mut long = body(&[Some(b"abc")]);
        long[2..6].copy_from_slice(&4i32.to_be_bytes());
        assert!(values(&long).is_err());
        let mut negative = body(&[None]);
        negative[2..6].copy_from_slice(&(-2i32).to_be_bytes());
        assert!(values(&negative).is_err());
        let err = values(&good[..3]).unwrap_err().to_string();
        assert!(err.contains("malformed DataRow"), "{err}");
    }
}
