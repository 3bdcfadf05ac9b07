//! Typed device-mapper table lines and status lines.
//!
//! This module owns every string dsimage exchanges with the kernel's
//! device-mapper targets: the parameter strings given to `table_load` and
//! printed back by `dmsetup table`, and the STATUSTYPE_INFO strings printed
//! by `dmsetup status`. Each format is built (`Display`) and parsed
//! (`FromStr`) in exactly one place, one submodule per target:
//!
//! - [`devref`]: how a table names a block device (`253:1` or a path).
//! - [`linear`], [`snapshot`] (snapshot-origin, snapshot, snapshot-merge),
//!   [`era`], [`mirror`]: target parameters and their status lines.
//! - [`status`]: a raw `dmsetup status` line, split so the caller can pick
//!   the typed status parser for its target.
//!
//! This file holds what ties them together: [`Target`], [`TableLine`],
//! [`Table`], the shared [`TableError`], and the tokenizer every parser uses.

pub mod devref;
pub mod era;
pub mod linear;
pub mod mirror;
pub mod snapshot;
pub mod status;

use std::fmt;
use std::str::FromStr;

use crate::units::Sectors;

pub use devref::DevRef;
pub use era::{EraParams, EraStatus};
pub use linear::LinearParams;
pub use mirror::{
    LegHealth, MirrorFeature, MirrorLeg, MirrorLog, MirrorLogStatus, MirrorParams, MirrorStatus,
    SyncMode,
};
pub use snapshot::{OriginParams, Persistence, SnapshotParams, SnapshotStatus};
pub use status::StatusLine;

/// A table or status string that does not have the shape the kernel uses.
///
/// Every variant carries `text`, the whole string being parsed, so a log line
/// shows the offending input and not only the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The string ended before a required field.
    #[error("missing {what} in {text:?}")]
    Missing { what: &'static str, text: String },
    /// A field is present but is not a valid value.
    #[error("invalid {what} {value:?} in {text:?}")]
    Invalid {
        what: &'static str,
        value: String,
        text: String,
    },
    /// Fields left over after a complete parse.
    #[error("unexpected trailing {extra:?} in {text:?}")]
    Trailing { extra: String, text: String },
    /// A target type this module does not model.
    #[error("unsupported target type {target_type:?} in {text:?}")]
    UnsupportedTarget { target_type: String, text: String },
}

/// Whitespace-separated fields of one string, with errors that name the
/// field and quote the whole string.
///
/// The kernel splits table parameters on whitespace (`dm_split_args`) and
/// prints them single-space separated, so parsing on any whitespace and
/// printing with single spaces round-trips every string the kernel prints.
#[derive(Debug)]
struct Fields<'a> {
    text: &'a str,
    rest: &'a str,
}

impl<'a> Fields<'a> {
    fn new(text: &'a str) -> Self {
        Fields { text, rest: text }
    }

    fn missing(&self, what: &'static str) -> TableError {
        TableError::Missing {
            what,
            text: self.text.to_owned(),
        }
    }

    fn invalid(&self, what: &'static str, value: &str) -> TableError {
        TableError::Invalid {
            what,
            value: value.to_owned(),
            text: self.text.to_owned(),
        }
    }

    fn is_empty(&self) -> bool {
        self.rest.trim_start().is_empty()
    }

    /// The next field, or `Missing`.
    fn next(&mut self, what: &'static str) -> Result<&'a str, TableError> {
        let rest = self.rest.trim_start();
        if rest.is_empty() {
            return Err(self.missing(what));
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (field, tail) = rest.split_at(end);
        self.rest = tail;
        Ok(field)
    }

    /// Everything not yet consumed, without surrounding whitespace.
    fn remainder(&mut self) -> &'a str {
        let rest = self.rest.trim();
        self.rest = "";
        rest
    }

    /// The next field as an unsigned decimal number.
    fn number<T: FromStr>(&mut self, what: &'static str) -> Result<T, TableError> {
        let field = self.next(what)?;
        parse_decimal(field).ok_or_else(|| self.invalid(what, field))
    }

    fn sectors(&mut self, what: &'static str) -> Result<Sectors, TableError> {
        self.number::<u64>(what).map(Sectors)
    }

    /// A sector count the kernel reads into a 32-bit `unsigned int` (chunk,
    /// region and block sizes): larger values are refused here, not by the
    /// kernel at load time.
    fn sectors_u32(&mut self, what: &'static str) -> Result<Sectors, TableError> {
        self.number::<u32>(what).map(|n| Sectors(u64::from(n)))
    }

    fn dev(&mut self, what: &'static str) -> Result<DevRef, TableError> {
        let field = self.next(what)?;
        field.parse().map_err(|_| self.invalid(what, field))
    }

    /// Succeeds only if every field was consumed.
    fn finish(self) -> Result<(), TableError> {
        let extra = self.rest.trim();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(TableError::Trailing {
                extra: extra.to_owned(),
                text: self.text.to_owned(),
            })
        }
    }
}

/// Parses a plain run of ASCII digits; refuses signs and blanks, which Rust's
/// integer `FromStr` would otherwise accept ('+') and the kernel never prints.
fn parse_decimal<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Writes `items` as ` <count> <item> <item>...`, or nothing when empty: the
/// optional feature-argument group several targets print after their
/// mandatory parameters.
fn write_arg_group<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    write!(f, " {}", items.len())?;
    for item in items {
        write!(f, " {item}")?;
    }
    Ok(())
}

/// The target of one table line, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Linear(LinearParams),
    SnapshotOrigin(OriginParams),
    Snapshot(SnapshotParams),
    SnapshotMerge(SnapshotParams),
    Era(EraParams),
    Mirror(MirrorParams),
    Error,
    Zero,
}

impl Target {
    /// The kernel's name for the target type.
    pub fn target_type(&self) -> &'static str {
        match self {
            Target::Linear(_) => "linear",
            Target::SnapshotOrigin(_) => "snapshot-origin",
            Target::Snapshot(_) => "snapshot",
            Target::SnapshotMerge(_) => "snapshot-merge",
            Target::Era(_) => "era",
            Target::Mirror(_) => "mirror",
            Target::Error => "error",
            Target::Zero => "zero",
        }
    }

    /// The parameter string, as given to the kernel and as `dmsetup table`
    /// prints it after the target type. Empty for `error` and `zero`.
    pub fn params(&self) -> String {
        match self {
            Target::Linear(p) => p.to_string(),
            Target::SnapshotOrigin(p) => p.to_string(),
            Target::Snapshot(p) | Target::SnapshotMerge(p) => p.to_string(),
            Target::Era(p) => p.to_string(),
            Target::Mirror(p) => p.to_string(),
            Target::Error | Target::Zero => String::new(),
        }
    }

    /// Parses `params` as the parameters of a `target_type` target.
    pub fn parse(target_type: &str, params: &str) -> Result<Target, TableError> {
        Ok(match target_type {
            "linear" => Target::Linear(params.parse()?),
            "snapshot-origin" => Target::SnapshotOrigin(params.parse()?),
            "snapshot" => Target::Snapshot(params.parse()?),
            "snapshot-merge" => Target::SnapshotMerge(params.parse()?),
            "era" => Target::Era(params.parse()?),
            "mirror" => Target::Mirror(params.parse()?),
            // zero refuses arguments; error accepts an optional `<dev> <start>`
            // (for zoned limits) in newer kernels but never prints it back.
            "error" | "zero" => {
                Fields::new(params).finish()?;
                if target_type == "error" {
                    Target::Error
                } else {
                    Target::Zero
                }
            }
            other => {
                return Err(TableError::UnsupportedTarget {
                    target_type: other.to_owned(),
                    text: params.to_owned(),
                })
            }
        })
    }
}

/// One line of a table: `<start> <length> <target type> <params>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLine {
    pub start: Sectors,
    pub length: Sectors,
    pub target: Target,
}

/// Written as `dmsetup table` prints it (`printf("%llu %llu %s %s")`), so a
/// target without parameters (`error`, `zero`) keeps dmsetup's trailing space.
impl fmt::Display for TableLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.start,
            self.length,
            self.target.target_type(),
            self.target.params()
        )
    }
}

impl FromStr for TableLine {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let start = fields.sectors("start sector")?;
        let length = fields.sectors("length")?;
        let target_type = fields.next("target type")?;
        let target = Target::parse(target_type, fields.remainder()).map_err(|e| match e {
            // Quote the whole line: the target type is the offending field.
            TableError::UnsupportedTarget { target_type, .. } => TableError::UnsupportedTarget {
                target_type,
                text: s.to_owned(),
            },
            other => other,
        })?;
        Ok(TableLine {
            start,
            length,
            target,
        })
    }
}

/// A whole table, one [`TableLine`] per target, in table order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table(pub Vec<TableLine>);

impl Table {
    /// The `(start, length, target type, params)` tuples
    /// `devicemapper::DM::table_load` takes.
    pub fn to_dm_tuples(&self) -> Vec<(u64, u64, String, String)> {
        self.0
            .iter()
            .map(|line| {
                (
                    line.start.0,
                    line.length.0,
                    line.target.target_type().to_owned(),
                    line.target.params(),
                )
            })
            .collect()
    }

    /// Total length of all lines.
    pub fn size(&self) -> Sectors {
        Sectors(self.0.iter().map(|line| line.length.0).sum())
    }
}

/// Lines joined by `'\n'`, without a final newline.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Parses `dmsetup table` output for one device; blank lines are skipped.
impl FromStr for Table {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.lines()
            .filter(|line| !line.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(s: &str) -> T
    where
        T: FromStr<Err = TableError> + fmt::Display,
    {
        let parsed: T = s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(parsed.to_string(), s);
        parsed
    }

    #[test]
    fn table_line_linear_round_trip() {
        let line: TableLine = round_trip("0 2048 linear 253:0 0");
        assert_eq!(
            line,
            TableLine {
                start: Sectors(0),
                length: Sectors(2048),
                target: Target::Linear(LinearParams {
                    dev: DevRef::MajMin(253, 0),
                    offset: Sectors(0),
                }),
            }
        );
    }

    #[test]
    fn table_line_every_target_round_trips() {
        for s in [
            "0 409600 snapshot-origin 253:2",
            "0 409600 snapshot 253:2 253:3 P 8",
            "0 409600 snapshot 253:2 253:3 PO 16 2 discard_zeroes_cow discard_passdown_origin",
            "0 409600 snapshot-merge 253:2 253:3 P 8",
            "0 409600 era 253:4 253:5 128",
            "0 409600 mirror core 2 1024 nosync 2 253:1 0 253:2 0 1 handle_errors",
            "0 409600 mirror disk 2 253:3 1024 2 253:1 0 253:2 0",
            // dmsetup prints "%s %s" even when params are empty.
            "0 8 error ",
            "8 8 zero ",
        ] {
            round_trip::<TableLine>(s);
        }
    }

    #[test]
    fn table_line_without_trailing_space_parses() {
        let line: TableLine = "0 8 error".parse().unwrap();
        assert_eq!(line.target, Target::Error);
        assert_eq!(line.to_string(), "0 8 error ");
    }

    #[test]
    fn table_line_value_round_trip() {
        let line = TableLine {
            start: Sectors(2048),
            length: Sectors(4096),
            target: Target::SnapshotMerge(SnapshotParams {
                origin: DevRef::MajMin(8, 16),
                cow: DevRef::Path("/dev/mapper/vg-cow".into()),
                persistent: Persistence::Persistent,
                chunk: Sectors(8),
                features: vec![],
            }),
        };
        let text = line.to_string();
        assert_eq!(text, "2048 4096 snapshot-merge 8:16 /dev/mapper/vg-cow P 8");
        assert_eq!(text.parse::<TableLine>().unwrap(), line);
    }

    #[test]
    fn table_multi_line_round_trip_and_tuples() {
        let text = "0 2048 linear 8:0 2048\n2048 2048 zero \n4096 1024 linear 8:16 0";
        let table: Table = round_trip(text);
        assert_eq!(table.0.len(), 3);
        assert_eq!(table.size(), Sectors(5120));
        assert_eq!(
            table.to_dm_tuples(),
            vec![
                (0, 2048, "linear".to_owned(), "8:0 2048".to_owned()),
                (2048, 2048, "zero".to_owned(), String::new()),
                (4096, 1024, "linear".to_owned(), "8:16 0".to_owned()),
            ]
        );
        // dmsetup ends its output with a newline.
        assert_eq!(format!("{text}\n").parse::<Table>().unwrap(), table);
        assert_eq!("".parse::<Table>().unwrap(), Table::default());
    }

    #[test]
    fn errors_name_the_field_and_quote_the_text() {
        let err = "0 x linear 253:0 0".parse::<TableLine>().unwrap_err();
        assert_eq!(
            err,
            TableError::Invalid {
                what: "length",
                value: "x".into(),
                text: "0 x linear 253:0 0".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            r#"invalid length "x" in "0 x linear 253:0 0""#
        );
        assert!(matches!(
            "0 8 striped 2 8 8:0 0 8:16 0".parse::<TableLine>(),
            Err(TableError::UnsupportedTarget { target_type, .. }) if target_type == "striped"
        ));
        assert!(matches!(
            "0 8 zero 1".parse::<TableLine>(),
            Err(TableError::Trailing { .. })
        ));
        assert!(matches!(
            "0 8".parse::<TableLine>(),
            Err(TableError::Missing {
                what: "target type",
                ..
            })
        ));
        assert!(matches!(
            "+0 8 zero".parse::<TableLine>(),
            Err(TableError::Invalid { .. })
        ));
    }
}
