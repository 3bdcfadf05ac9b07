//! Device-mapper names of every device the engine makes. All start with the engine's
//! prefix, so a sweep can find leaks and several engines (tests) can share a kernel.

use std::path::Path;

/// dm names: at most 127 bytes, no '/'.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Top device of a raw volume: `<prefix>-<basename>` (`dsimage-vdb`).
pub fn top(prefix: &str, raw: &Path) -> String {
    let base = raw
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_else(|| raw.to_string_lossy().into_owned());
    format!("{prefix}-{}", sanitize(&base))
}

/// COW device of a dependent set, over its shadow volume: `<shadow top>.cow<gen % 2>`.
pub fn cow(shadow_top: &str, gen: u32) -> String {
    format!("{shadow_top}.cow{}", gen % 2)
}

/// Point-in-time snapshot of an independent set's copy source: `<shadow top>.pit<gen % 2>`.
pub fn pit(shadow_top: &str, gen: u32) -> String {
    format!("{shadow_top}.pit{}", gen % 2)
}

/// A copy's scratch area on the scratch device (a linear map of one half of it):
/// `<shadow top>.scratch<gen % 2>`.
pub fn scratch(shadow_top: &str, gen: u32) -> String {
    format!("{shadow_top}.scratch{}", gen % 2)
}

/// The mirror's disk log over the bitmap volume: `<shadow top>.log`.
pub fn log(shadow_top: &str) -> String {
    format!("{shadow_top}.log")
}

/// dm-era device of a volume in an independent set, between its top and the raw
/// device: `<top>.era`.
pub fn era(top: &str) -> String {
    format!("{top}.era")
}

/// The generation parity a COW device name carries, if it is one of `shadow_top`'s.
pub fn cow_parity(shadow_top: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(shadow_top)?.strip_prefix(".cow")?;
    rest.parse::<u32>().ok().filter(|p| *p < 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(top("dsimage", Path::new("/dev/vdb")), "dsimage-vdb");
        assert_eq!(top("t", Path::new("/dev/disk/by-id/a:b")), "t-a_b");
        assert_eq!(cow("dsimage-vdc", 3), "dsimage-vdc.cow1");
        assert_eq!(era("dsimage-vdc"), "dsimage-vdc.era");
        assert_eq!(cow_parity("dsimage-vdc", "dsimage-vdc.cow1"), Some(1));
        assert_eq!(cow_parity("dsimage-vdc", "dsimage-vdd.cow1"), None);
        assert_eq!(cow_parity("dsimage-vdc", "dsimage-vdc.cow7"), None);
    }
}
