//! CIM data types and typed values, plus their CIM-XML text form (the
//! `#PCDATA` of `VALUE`): the one place where values are parsed from and
//! formatted to text.

use std::fmt;
use std::str::FromStr;

use super::datetime::{CimDateTime, DateTimeError};
use super::types::ObjectPath;

/// The intrinsic CIM data types (DSP0004 table 2) plus `reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CimType {
    Boolean,
    String,
    Char16,
    DateTime,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Sint8,
    Sint16,
    Sint32,
    Sint64,
    Real32,
    Real64,
    Reference,
}

impl CimType {
    /// The lower-case name used in CIM-XML `TYPE`/`PARAMTYPE` attributes and MOF.
    pub fn as_str(self) -> &'static str {
        match self {
            CimType::Boolean => "boolean",
            CimType::String => "string",
            CimType::Char16 => "char16",
            CimType::DateTime => "datetime",
            CimType::Uint8 => "uint8",
            CimType::Uint16 => "uint16",
            CimType::Uint32 => "uint32",
            CimType::Uint64 => "uint64",
            CimType::Sint8 => "sint8",
            CimType::Sint16 => "sint16",
            CimType::Sint32 => "sint32",
            CimType::Sint64 => "sint64",
            CimType::Real32 => "real32",
            CimType::Real64 => "real64",
            CimType::Reference => "reference",
        }
    }

    /// Parses a type name, case-insensitively (MOF keywords are case-insensitive).
    pub fn from_name(name: &str) -> Option<CimType> {
        const ALL: [CimType; 15] = [
            CimType::Boolean,
            CimType::String,
            CimType::Char16,
            CimType::DateTime,
            CimType::Uint8,
            CimType::Uint16,
            CimType::Uint32,
            CimType::Uint64,
            CimType::Sint8,
            CimType::Sint16,
            CimType::Sint32,
            CimType::Sint64,
            CimType::Real32,
            CimType::Real64,
            CimType::Reference,
        ];
        ALL.into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            CimType::Uint8
                | CimType::Uint16
                | CimType::Uint32
                | CimType::Uint64
                | CimType::Sint8
                | CimType::Sint16
                | CimType::Sint32
                | CimType::Sint64
        )
    }

    pub fn is_real(self) -> bool {
        matches!(self, CimType::Real32 | CimType::Real64)
    }
}

impl fmt::Display for CimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single typed CIM value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Boolean(bool),
    String(String),
    Char16(char),
    DateTime(CimDateTime),
    Uint8(u8),
    Uint16(u16),
    Uint32(u32),
    Uint64(u64),
    Sint8(i8),
    Sint16(i16),
    Sint32(i32),
    Sint64(i64),
    Real32(f32),
    Real64(f64),
    Reference(Box<ObjectPath>),
}

/// A non-NULL CIM value: a scalar, or a homogeneous array whose element
/// type is carried explicitly (so empty arrays stay typed). Array elements
/// may be NULL (`VALUE.NULL`). A NULL value as a whole is `Option::None`
/// wherever a `Value` is held.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Array(CimType, Vec<Option<Scalar>>),
}

/// Why a textual value could not be converted to the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{text:?} is not a valid {cimtype} value")]
    Invalid { cimtype: CimType, text: String },
    #[error(transparent)]
    DateTime(#[from] DateTimeError),
    #[error("expected a {expected} value, got {found}")]
    TypeMismatch { expected: String, found: String },
}

fn parse_int<T: TryFrom<i128>>(t: CimType, text: &str) -> Result<T, ValueError> {
    let bad = || ValueError::Invalid {
        cimtype: t,
        text: text.into(),
    };
    let s = text.trim();
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    // DSP0004 also allows hex ("0x") and binary ("b" suffix) integer literals.
    let magnitude = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16).map_err(|_| bad())?
    } else if body.len() > 1
        && (body.ends_with('b') || body.ends_with('B'))
        && body[..body.len() - 1]
            .bytes()
            .all(|b| b == b'0' || b == b'1')
    {
        i128::from_str_radix(&body[..body.len() - 1], 2).map_err(|_| bad())?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        body.parse::<i128>().map_err(|_| bad())?
    };
    T::try_from(if neg { -magnitude } else { magnitude }).map_err(|_| bad())
}

fn parse_real(t: CimType, text: &str) -> Result<f64, ValueError> {
    let s = text.trim();
    match s {
        "INF" | "+INF" => return Ok(f64::INFINITY),
        "-INF" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    // Rust would also accept "inf"/"nan" spellings; DSP0201 only has the above.
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return Err(ValueError::Invalid {
            cimtype: t,
            text: text.into(),
        });
    }
    s.parse::<f64>().map_err(|_| ValueError::Invalid {
        cimtype: t,
        text: text.into(),
    })
}

fn format_real(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "INF" } else { "-INF" }.into()
    } else {
        // Debug gives the shortest round-tripping form, with exponent when large.
        format!("{v:?}")
    }
}

impl Scalar {
    /// Parses the CIM-XML/MOF text form of a non-reference scalar.
    pub fn parse(cimtype: CimType, text: &str) -> Result<Scalar, ValueError> {
        let t = cimtype;
        Ok(match t {
            CimType::Boolean => match text.trim() {
                s if s.eq_ignore_ascii_case("true") => Scalar::Boolean(true),
                s if s.eq_ignore_ascii_case("false") => Scalar::Boolean(false),
                _ => {
                    return Err(ValueError::Invalid {
                        cimtype: t,
                        text: text.into(),
                    })
                }
            },
            CimType::String => Scalar::String(text.to_string()),
            CimType::Char16 => {
                let mut it = text.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Scalar::Char16(c),
                    _ => {
                        return Err(ValueError::Invalid {
                            cimtype: t,
                            text: text.into(),
                        })
                    }
                }
            }
            CimType::DateTime => Scalar::DateTime(CimDateTime::from_str(text)?),
            CimType::Uint8 => Scalar::Uint8(parse_int(t, text)?),
            CimType::Uint16 => Scalar::Uint16(parse_int(t, text)?),
            CimType::Uint32 => Scalar::Uint32(parse_int(t, text)?),
            CimType::Uint64 => Scalar::Uint64(parse_int(t, text)?),
            CimType::Sint8 => Scalar::Sint8(parse_int(t, text)?),
            CimType::Sint16 => Scalar::Sint16(parse_int(t, text)?),
            CimType::Sint32 => Scalar::Sint32(parse_int(t, text)?),
            CimType::Sint64 => Scalar::Sint64(parse_int(t, text)?),
            CimType::Real32 => Scalar::Real32(parse_real(t, text)? as f32),
            CimType::Real64 => Scalar::Real64(parse_real(t, text)?),
            CimType::Reference => {
                return Err(ValueError::Invalid {
                    cimtype: t,
                    text: text.into(),
                })
            }
        })
    }

    pub fn cim_type(&self) -> CimType {
        match self {
            Scalar::Boolean(_) => CimType::Boolean,
            Scalar::String(_) => CimType::String,
            Scalar::Char16(_) => CimType::Char16,
            Scalar::DateTime(_) => CimType::DateTime,
            Scalar::Uint8(_) => CimType::Uint8,
            Scalar::Uint16(_) => CimType::Uint16,
            Scalar::Uint32(_) => CimType::Uint32,
            Scalar::Uint64(_) => CimType::Uint64,
            Scalar::Sint8(_) => CimType::Sint8,
            Scalar::Sint16(_) => CimType::Sint16,
            Scalar::Sint32(_) => CimType::Sint32,
            Scalar::Sint64(_) => CimType::Sint64,
            Scalar::Real32(_) => CimType::Real32,
            Scalar::Real64(_) => CimType::Real64,
            Scalar::Reference(_) => CimType::Reference,
        }
    }

    /// The `VALUE` text; `None` for references (they are elements, not text).
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Scalar::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Scalar::String(s) => s.clone(),
            Scalar::Char16(c) => c.to_string(),
            Scalar::DateTime(d) => d.to_string(),
            Scalar::Uint8(v) => v.to_string(),
            Scalar::Uint16(v) => v.to_string(),
            Scalar::Uint32(v) => v.to_string(),
            Scalar::Uint64(v) => v.to_string(),
            Scalar::Sint8(v) => v.to_string(),
            Scalar::Sint16(v) => v.to_string(),
            Scalar::Sint32(v) => v.to_string(),
            Scalar::Sint64(v) => v.to_string(),
            Scalar::Real32(v) => format_real(f64::from(*v)),
            Scalar::Real64(v) => format_real(*v),
            Scalar::Reference(_) => return None,
        })
    }

    /// Converts an integer scalar to another integer type if it fits (used
    /// when MOF literals or untyped values meet a declared type).
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Scalar::Uint8(v) => v.into(),
            Scalar::Uint16(v) => v.into(),
            Scalar::Uint32(v) => v.into(),
            Scalar::Uint64(v) => v.into(),
            Scalar::Sint8(v) => v.into(),
            Scalar::Sint16(v) => v.into(),
            Scalar::Sint32(v) => v.into(),
            Scalar::Sint64(v) => v.into(),
            _ => return None,
        })
    }
}

impl Value {
    pub fn cim_type(&self) -> CimType {
        match self {
            Value::Scalar(s) => s.cim_type(),
            Value::Array(t, _) => *t,
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(..))
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::Scalar(Scalar::String(s.into()))
    }

    pub fn reference(p: ObjectPath) -> Value {
        Value::Scalar(Scalar::Reference(Box::new(p)))
    }

    /// A string array without NULL elements.
    pub fn string_array<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::Array(
            CimType::String,
            items
                .into_iter()
                .map(|s| Some(Scalar::String(s.into())))
                .collect(),
        )
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Value::Scalar(s) => Some(s),
            Value::Array(..) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Scalar(Scalar::String(s)) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Scalar(Scalar::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    /// Any integer scalar that fits in `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_scalar()?
            .as_i128()
            .and_then(|v| u64::try_from(v).ok())
    }

    pub fn as_reference(&self) -> Option<&ObjectPath> {
        match self {
            Value::Scalar(Scalar::Reference(p)) => Some(p),
            _ => None,
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Scalar(Scalar::$v(v)) }
        }
    )*};
}
value_from!(bool => Boolean, String => String, char => Char16, CimDateTime => DateTime,
    u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64,
    i8 => Sint8, i16 => Sint16, i32 => Sint32, i64 => Sint64, f32 => Real32, f64 => Real64);

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::string(v)
    }
}

/// A value as it appears on the wire before its type is known: `VALUE`
/// text, `VALUE.ARRAY` texts, or references. `IPARAMVALUE`s, untyped
/// `PARAMVALUE`s and `GetProperty` results carry no type, so the receiver
/// types them against a declaration with [`RawValue::typed`].
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Text(String),
    Array(Vec<Option<String>>),
    Reference(ObjectPath),
    RefArray(Vec<Option<ObjectPath>>),
}

impl RawValue {
    /// The wire form of a typed value.
    pub fn from_value(v: &Value) -> RawValue {
        match v {
            Value::Scalar(Scalar::Reference(p)) => RawValue::Reference((**p).clone()),
            Value::Scalar(s) => RawValue::Text(s.to_text().unwrap_or_default()),
            Value::Array(CimType::Reference, items) => RawValue::RefArray(
                items
                    .iter()
                    .map(|i| match i {
                        Some(Scalar::Reference(p)) => Some((**p).clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            Value::Array(_, items) => RawValue::Array(
                items
                    .iter()
                    .map(|i| i.as_ref().and_then(Scalar::to_text))
                    .collect(),
            ),
        }
    }

    /// Types the raw value against a declared type and array-ness.
    pub fn typed(&self, cimtype: CimType, is_array: bool) -> Result<Value, ValueError> {
        let mismatch = |found: &str| ValueError::TypeMismatch {
            expected: format!("{cimtype}{}", if is_array { "[]" } else { "" }),
            found: found.into(),
        };
        match (self, is_array) {
            (RawValue::Text(t), false) => Scalar::parse(cimtype, t).map(Value::Scalar),
            (RawValue::Reference(p), false) if cimtype == CimType::Reference => {
                Ok(Value::reference(p.clone()))
            }
            (RawValue::Array(items), true) => Ok(Value::Array(
                cimtype,
                items
                    .iter()
                    .map(|i| i.as_deref().map(|t| Scalar::parse(cimtype, t)).transpose())
                    .collect::<Result<_, _>>()?,
            )),
            (RawValue::RefArray(items), true) if cimtype == CimType::Reference => Ok(Value::Array(
                cimtype,
                items
                    .iter()
                    .map(|i| i.clone().map(|p| Scalar::Reference(Box::new(p))))
                    .collect(),
            )),
            (RawValue::Text(_), _) => Err(mismatch("a scalar")),
            (RawValue::Array(_), _) => Err(mismatch("an array")),
            (RawValue::Reference(_), _) => Err(mismatch("a reference")),
            (RawValue::RefArray(_), _) => Err(mismatch("a reference array")),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            RawValue::Text(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_text_round_trip() {
        let cases = [
            (CimType::Boolean, "TRUE"),
            (CimType::Uint8, "255"),
            (CimType::Sint8, "-128"),
            (CimType::Uint64, "18446744073709551615"),
            (CimType::Sint64, "-9223372036854775808"),
            (CimType::Real64, "1.5"),
            (CimType::Real64, "1e300"),
            (CimType::Real32, "0.25"),
            (CimType::Real64, "INF"),
            (CimType::Char16, "x"),
            (CimType::String, " keep  spaces "),
            (CimType::DateTime, "20240101000000.000000+000"),
        ];
        for (t, s) in cases {
            let v = Scalar::parse(t, s).unwrap();
            assert_eq!(v.cim_type(), t);
            assert_eq!(v.to_text().unwrap(), s);
        }
    }

    #[test]
    fn integer_forms_and_ranges() {
        assert_eq!(
            Scalar::parse(CimType::Uint32, " 0x1F ").unwrap(),
            Scalar::Uint32(31)
        );
        assert_eq!(
            Scalar::parse(CimType::Uint8, "101b").unwrap(),
            Scalar::Uint8(5)
        );
        assert_eq!(
            Scalar::parse(CimType::Boolean, "true").unwrap(),
            Scalar::Boolean(true)
        );
        for (t, s) in [
            (CimType::Uint8, "256"),
            (CimType::Uint8, "-1"),
            (CimType::Sint8, "128"),
            (CimType::Uint32, "1.0"),
            (CimType::Uint32, ""),
            (CimType::Real64, "inf"),
            (CimType::Boolean, "yes"),
            (CimType::Char16, "ab"),
        ] {
            assert!(Scalar::parse(t, s).is_err(), "{t} {s}");
        }
    }

    #[test]
    fn raw_typing() {
        let raw = RawValue::Array(vec![Some("1".into()), None]);
        assert_eq!(
            raw.typed(CimType::Uint16, true).unwrap(),
            Value::Array(CimType::Uint16, vec![Some(Scalar::Uint16(1)), None])
        );
        assert!(raw.typed(CimType::Uint16, false).is_err());
        let v = Value::string_array(["a", "b"]);
        assert_eq!(
            RawValue::from_value(&v)
                .typed(CimType::String, true)
                .unwrap(),
            v
        );
    }
}
