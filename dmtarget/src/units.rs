//! Sector and byte quantities as distinct types, so the two cannot be mixed by accident.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Size of a kernel sector in bytes.
pub const SECTOR_SIZE: u64 = 512;

macro_rules! unit {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Clone,
            Copy,
            Debug,
            Default,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<u64>().map($name)
            }
        }

        impl Add for $name {
            type Output = $name;
            fn add(self, rhs: $name) -> $name {
                $name(self.0 + rhs.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: $name) {
                self.0 += rhs.0;
            }
        }

        impl Sub for $name {
            type Output = $name;
            fn sub(self, rhs: $name) -> $name {
                $name(self.0 - rhs.0)
            }
        }
    };
}

unit!(Sectors, "A quantity of 512-byte sectors.");
unit!(Bytes, "A quantity of bytes.");

impl Sectors {
    pub fn bytes(self) -> Bytes {
        Bytes(self.0 * SECTOR_SIZE)
    }
}

impl Bytes {
    /// Whole sectors in this many bytes (rounded down).
    pub fn sectors(self) -> Sectors {
        Sectors(self.0 / SECTOR_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectors_and_bytes_convert() {
        assert_eq!(Sectors(3).bytes(), Bytes(1536));
        assert_eq!(Bytes(1537).sectors(), Sectors(3));
        assert_eq!("42".parse::<Sectors>().unwrap(), Sectors(42));
        assert_eq!(Sectors(2) + Sectors(3) - Sectors(1), Sectors(4));
    }
}
