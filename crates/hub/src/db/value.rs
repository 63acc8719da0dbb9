//! Values crossing the storage seam: what a statement is given
//! ([`ToSql`], [`Params`]) and what a row gives back ([`FromSql`]), the
//! same for both databases. The hub stores five kinds of value — NULL,
//! 64-bit integers, floats, UTF-8 text and bytes — and each backend maps
//! them onto its own column types (SQLite's storage classes; PostgreSQL's
//! BIGINT, DOUBLE PRECISION, TEXT and BYTEA, also reading its BOOLEAN,
//! INTEGER and NUMERIC results as integers where they are whole).

use std::fmt;

/// A value borrowed from a parameter or a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    /// The kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Int(_) => "an integer",
            ValueRef::Real(_) => "a float",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "bytes",
        }
    }
}

/// A value of its own, as a column gives it (copying rows between
/// databases).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// A parameter's value, owned (rows gathered for
    /// [`super::Tx::insert_rows`]).
    pub fn of(v: &dyn ToSql) -> Result<Value, FromSqlError> {
        Value::from_sql(v.to_value()?)
    }
}

impl FromSql for Value {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        Ok(match v {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(t.to_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    }
}

impl ToSql for Value {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Int(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t),
            Value::Blob(b) => ValueRef::Blob(b),
        })
    }
}

/// Why a column's value is not what the code reads it as.
#[derive(Debug, Clone, PartialEq)]
pub struct FromSqlError(pub String);

impl fmt::Display for FromSqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromSqlError {
    fn expected(what: &str, got: ValueRef<'_>) -> FromSqlError {
        FromSqlError(format!("expected {what}, found {}", got.kind()))
    }
}

/// What a statement can be given as a parameter.
pub trait ToSql {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError>;
}

/// What a column can be read as.
pub trait FromSql: Sized {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError>;
}

// ---- parameters ----

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        (**self).to_value()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        match self {
            Some(v) => v.to_value(),
            None => Ok(ValueRef::Null),
        }
    }
}

impl<T: ToSql + ?Sized> ToSql for Box<T> {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        (**self).to_value()
    }
}

macro_rules! int_to_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
                i64::try_from(*self)
                    .map(ValueRef::Int)
                    .map_err(|_| FromSqlError(format!("{} does not fit a 64-bit integer", self)))
            }
        }
    )*};
}
int_to_sql!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl ToSql for bool {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Int(i64::from(*self)))
    }
}

impl ToSql for f64 {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Real(*self))
    }
}

impl ToSql for str {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Text(self))
    }
}

impl ToSql for String {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Text(self))
    }
}

impl ToSql for [u8] {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Blob(self))
    }
}

impl ToSql for Vec<u8> {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Blob(self))
    }
}

impl<const N: usize> ToSql for [u8; N] {
    fn to_value(&self) -> Result<ValueRef<'_>, FromSqlError> {
        Ok(ValueRef::Blob(self))
    }
}

/// A statement's parameters: `params![a, b]`, an array of one type,
/// a tuple, or `[]`.
pub trait Params {
    fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError>;
}

impl Params for [&dyn ToSql; 0] {
    fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError> {
        Ok(Vec::new())
    }
}

impl Params for Vec<&dyn ToSql> {
    fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl<T: ToSql + ?Sized> Params for &[&T] {
    fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError> {
        self.iter().map(ToSql::to_value).collect()
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError> {
                self.iter().map(ToSql::to_value).collect()
            }
        }
        impl<T: ToSql + ?Sized> Params for &[&T; $n] {
            fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError> {
                self.iter().map(|v| v.to_value()).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

macro_rules! tuple_params {
    ($(($($t:ident $i:tt),+)),*) => {$(
        impl<$($t: ToSql),+> Params for ($($t,)+) {
            fn values(&self) -> Result<Vec<ValueRef<'_>>, FromSqlError> {
                Ok(vec![$(ToSql::to_value(&self.$i)?),+])
            }
        }
    )*};
}
tuple_params!(
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5)
);

/// Parameters of several types: `params![terminal, seq, bytes]`.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::ToSql]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::ToSql),+] as &[&dyn $crate::db::ToSql]
    };
}

// ---- columns ----

impl FromSql for i64 {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        match v {
            ValueRef::Int(i) => Ok(i),
            other => Err(FromSqlError::expected("an integer", other)),
        }
    }
}

macro_rules! int_from_sql {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
                let i = i64::from_sql(v)?;
                <$t>::try_from(i).map_err(|_| {
                    FromSqlError(format!("{i} is out of range for {}", stringify!($t)))
                })
            }
        }
    )*};
}
int_from_sql!(i8, i16, i32, u8, u16, u32, u64, usize, isize);

impl FromSql for bool {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        Ok(i64::from_sql(v)? != 0)
    }
}

impl FromSql for f64 {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        match v {
            ValueRef::Real(f) => Ok(f),
            // Whole numbers are exact in a double up to 2^53.
            #[allow(clippy::cast_precision_loss)]
            ValueRef::Int(i) => Ok(i as f64),
            other => Err(FromSqlError::expected("a number", other)),
        }
    }
}

impl FromSql for String {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        match v {
            ValueRef::Text(s) => Ok(s.to_owned()),
            other => Err(FromSqlError::expected("text", other)),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        match v {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            other => Err(FromSqlError::expected("bytes", other)),
        }
    }
}

impl<const N: usize> FromSql for [u8; N] {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        match v {
            ValueRef::Blob(b) => <[u8; N]>::try_from(b)
                .map_err(|_| FromSqlError(format!("expected {N} bytes, found {}", b.len()))),
            other => Err(FromSqlError::expected("bytes", other)),
        }
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        match v {
            ValueRef::Null => Ok(None),
            v => T::from_sql(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_convert_with_their_range_checked() {
        assert_eq!(u32::from_sql(ValueRef::Int(7)), Ok(7));
        assert!(u32::from_sql(ValueRef::Int(-1)).is_err());
        assert!(u64::MAX.to_value().is_err());
        assert_eq!(true.to_value(), Ok(ValueRef::Int(1)));
        assert_eq!(Option::<i64>::from_sql(ValueRef::Null), Ok(None));
        let e = String::from_sql(ValueRef::Int(3)).unwrap_err();
        assert_eq!(e.0, "expected text, found an integer");
    }

    #[test]
    fn params_of_every_shape() {
        let s = String::from("x");
        assert_eq!(
            crate::params![1_i64, s, None::<i64>]
                .values()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(["a", "b"].values().unwrap().len(), 2);
        assert_eq!(("a", 2_u32).values().unwrap()[1], ValueRef::Int(2));
        assert!([].values().unwrap().is_empty());
    }
}
