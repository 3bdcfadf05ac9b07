//! The `linear` target: `<dev> <offset>` (drivers/md/dm-linear.c).
//!
//! Its STATUSTYPE_INFO line is empty, so there is no status type here.

use std::fmt;
use std::str::FromStr;

use super::{DevRef, Fields, TableError};
use crate::units::Sectors;

/// Maps the line's sectors onto `dev` starting at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearParams {
    pub dev: DevRef,
    pub offset: Sectors,
}

/// As `linear_status` prints it: "%s %llu".
impl fmt::Display for LinearParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.dev, self.offset)
    }
}

impl FromStr for LinearParams {
    type Err = TableError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = Fields::new(s);
        let dev = fields.dev("linear device")?;
        let offset = fields.sectors("linear offset")?;
        fields.finish()?;
        Ok(LinearParams { dev, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_string_round_trips() {
        let p: LinearParams = "253:0 2048".parse().unwrap();
        assert_eq!(
            p,
            LinearParams {
                dev: DevRef::MajMin(253, 0),
                offset: Sectors(2048),
            }
        );
        assert_eq!(p.to_string(), "253:0 2048");
    }

    #[test]
    fn value_round_trips() {
        let p = LinearParams {
            dev: DevRef::Path("/dev/loop0".into()),
            offset: Sectors(0),
        };
        assert_eq!(p.to_string(), "/dev/loop0 0");
        assert_eq!(p.to_string().parse::<LinearParams>().unwrap(), p);
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert!(matches!(
            "253:0".parse::<LinearParams>(),
            Err(TableError::Missing { .. })
        ));
        assert!(matches!(
            "253:0 0 1".parse::<LinearParams>(),
            Err(TableError::Trailing { .. })
        ));
        assert!(matches!(
            "253:0 -1".parse::<LinearParams>(),
            Err(TableError::Invalid { .. })
        ));
    }
}
