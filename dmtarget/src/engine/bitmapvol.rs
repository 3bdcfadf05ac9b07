//! The set's bitmap volume: formatted at enable with a header that identifies the set,
//! so a set can be recognised from its bitmap volume alone (format in
//! [`crate::ondisk::bitmap_volume`]).

use super::config::{SetKind, SetRecord};
use super::{Engine, EngineError, Result};
use crate::ondisk::bitmap_volume::{
    default_region, BitmapVolume, BitmapVolumeHeader, SetType, VolumeFlags, VolumeIdentity,
};

fn uuid_bytes(hex: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

impl Engine {
    /// A stable identity for a volume: its serial when the kernel has one, else its path.
    fn identity(&self, path: &std::path::Path, size: crate::units::Bytes) -> VolumeIdentity {
        let id = self
            .cfg
            .volume(path)
            .and_then(|v| v.serial.clone())
            .or_else(|| crate::volume::probe(path).ok().and_then(|d| d.serial))
            .unwrap_or_else(|| path.display().to_string());
        VolumeIdentity { id, size }
    }

    pub(crate) fn write_bitmap_header(&self, rec: &SetRecord) -> Result<()> {
        let fail = |e: crate::ondisk::FormatError| {
            EngineError::Failed(format!(
                "formatting the bitmap volume {}: {e}",
                rec.bitmap.display()
            ))
        };
        let set_type = match rec.kind {
            SetKind::Independent => SetType::Independent,
            SetKind::Dependent => SetType::Dependent,
        };
        let mut header = BitmapVolumeHeader::new(
            uuid_bytes(&rec.uuid),
            set_type,
            &rec.name,
            self.identity(&rec.master, rec.master_size),
            self.identity(&rec.shadow, rec.shadow_size),
            rec.chunk,
            default_region(rec.master_size, rec.chunk),
        )
        .map_err(fail)?;
        if rec.compact() {
            header.flags.insert(VolumeFlags::COMPACT);
        }
        BitmapVolume::format_path(&rec.bitmap, header).map_err(fail)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_hex_to_bytes() {
        let b = super::uuid_bytes("00ff10");
        assert_eq!(&b[..3], &[0, 255, 16]);
        assert_eq!(b[3], 0);
    }
}
