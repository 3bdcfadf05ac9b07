//! The dm-era metadata reader ([`dmtarget::ondisk::era`]) against metadata written by the
//! kernel: the images in `tests/fixtures/era` (see its README for how they were made),
//! the outputs of thin-provisioning-tools' `era_dump` / `era_invalidate` stored beside
//! them, and the tools themselves when they are installed. Plus corrupted copies: every
//! damage must come back as a `FormatError`, never a panic or a hang.
//!
//! The images are gzip-compressed device copies; `gzip` (present on every Linux host)
//! unpacks them.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use dmtarget::bitmap::ChunkBitmap;
use dmtarget::ondisk::era::{
    self, EraMetadata, ARRAY_CSUM_XOR, BTREE_CSUM_XOR, SUPERBLOCK_CSUM_XOR,
};
use dmtarget::ondisk::FormatError;
use dmtarget::units::Sectors;

const IMAGES: [&str; 8] = [
    "small-active",
    "small-suspended",
    "small-at-snap",
    "grown-active",
    "grown-at-snap",
    "big-active",
    "big-suspended",
    "big-at-snap",
];

const BLOCK: usize = 4096;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/era")
}

/// The decompressed metadata image `name`.
fn image(name: &str) -> Vec<u8> {
    let gz = fixture_dir().join(format!("{name}.img.gz"));
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap_or_else(|e| panic!("running gzip to unpack {}: {e}", gz.display()));
    assert!(out.status.success(), "gzip -dc {} failed", gz.display());
    assert_eq!(
        out.stdout.len() % BLOCK,
        0,
        "{name}: not whole 4 KiB blocks"
    );
    out.stdout
}

/// An image written to a temporary file, removed on drop.
struct TempImage(PathBuf);

impl TempImage {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "dsimage-era-{}-{name}-{:?}.img",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, bytes).expect("writing a temporary image");
        TempImage(path)
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A host tool, looked up in PATH and the sbin directories (where Debian installs the
/// thin-provisioning-tools, often outside an unprivileged PATH).
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Block numbers as the fixtures write them: ascending half-open runs, `a` or `a..b`.
fn fmt_ranges(bitmap: &ChunkBitmap) -> String {
    bitmap
        .ranges()
        .map(|(start, len)| {
            if len == 1 {
                start.to_string()
            } else {
                format!("{start}..{}", start + len)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_ranges(text: &str, nr_blocks: u64) -> ChunkBitmap {
    let mut bitmap = ChunkBitmap::new(nr_blocks);
    for item in text.split_whitespace() {
        let (a, b) = match item.split_once("..") {
            Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
            None => {
                let a: u64 = item.parse().unwrap();
                (a, a + 1)
            }
        };
        bitmap.set_range(a..b).unwrap();
    }
    bitmap
}

/// `era_invalidate`'s XML (`<block block="N"/>`, `<range begin="A" end="B"/>`; the C++
/// tools write `end = "B"`) as ranges.
fn xml_ranges(xml: &str, nr_blocks: u64) -> String {
    let mut bitmap = ChunkBitmap::new(nr_blocks);
    for line in xml.lines() {
        let line: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        let num = |key: &str| -> Option<u64> {
            let rest = &line[line.find(key)? + key.len()..];
            rest[..rest.find('"')?].parse().ok()
        };
        // Whitespace is gone: `<block block="N"/>` reads `<blockblock="N"/>`.
        if line.starts_with("<blockblock=") {
            let b = num("block=\"").expect("block number");
            bitmap.set(b).unwrap();
        } else if line.starts_with("<rangebegin=") {
            let (a, b) = (num("begin=\"").unwrap(), num("end=\"").unwrap());
            bitmap.set_range(a..b).unwrap();
        }
    }
    fmt_ranges(&bitmap)
}

/// What `make-expected.py` recorded for one image.
#[derive(Debug, Default)]
struct Expected {
    superblock: BTreeMap<String, String>,
    metadata_snap: u64,
    current_writeset: String,
    /// (era, nr_bits, blocks)
    writesets: Vec<(u32, u32, String)>,
    era_array: BTreeMap<u32, String>,
    live: Vec<String>,
    snap: Vec<String>,
}

/// `key="value"` pairs of an XML start tag's attributes.
fn attributes(text: &str) -> BTreeMap<String, String> {
    text.split('"')
        .collect::<Vec<_>>()
        .chunks(2)
        .filter(|kv| kv.len() == 2)
        .map(|kv| {
            let key = kv[0].trim().trim_end_matches('=').trim();
            let key = key.rsplit(' ').next().unwrap_or(key);
            (key.to_string(), kv[1].to_string())
        })
        .collect()
}

fn expected(name: &str) -> Expected {
    let path = fixture_dir().join(format!("{name}.expected"));
    let text = std::fs::read_to_string(&path).expect("reading the expected outputs");
    let mut e = Expected::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (head, value) = rest.split_once('=').map_or((rest, ""), |(h, v)| (h, v));
        let value = value.trim().to_string();
        match key {
            "superblock" => e.superblock = attributes(rest),
            "metadata-snap" => e.metadata_snap = rest.parse().unwrap(),
            "current-writeset" => e.current_writeset = rest.to_string(),
            "writeset" => {
                let mut it = head.split_whitespace().map(|n| n.parse::<u32>().unwrap());
                let (era, nr_bits) = (it.next().unwrap(), it.next().unwrap());
                e.writesets.push((era, nr_bits, value));
            }
            "era-array" => {
                e.era_array.insert(head.trim().parse().unwrap(), value);
            }
            "live" | "snap" => {
                let list = if key == "live" {
                    &mut e.live
                } else {
                    &mut e.snap
                };
                assert_eq!(head.trim().parse::<usize>().unwrap(), list.len());
                list.push(value);
            }
            _ => panic!("{}: unknown line {line:?}", path.display()),
        }
    }
    e
}

fn nr_blocks(e: &Expected) -> u64 {
    e.superblock["nr_blocks"].parse().unwrap()
}

fn since(dev: &mut Cursor<Vec<u8>>, era: u32, snapshot: bool) -> String {
    let bitmap = era::blocks_written_since(dev, era, snapshot)
        .unwrap_or_else(|e| panic!("blocks_written_since({era}, snapshot {snapshot}): {e}"));
    fmt_ranges(&bitmap)
}

fn check_superblock(name: &str, md: &EraMetadata, sb: &BTreeMap<String, String>) {
    let uuid: String = md
        .uuid
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    assert_eq!(uuid, sb["uuid"], "{name}: uuid");
    assert_eq!(
        md.block_size.0.to_string(),
        sb["block_size"],
        "{name}: block_size"
    );
    assert_eq!(
        md.nr_blocks.to_string(),
        sb["nr_blocks"],
        "{name}: nr_blocks"
    );
    assert_eq!(
        md.current_era.to_string(),
        sb["current_era"],
        "{name}: current_era"
    );
}

#[test]
fn superblocks_match_era_dump() {
    let era_dump = tool("era_dump");
    for name in IMAGES {
        let bytes = image(name);
        let exp = expected(name);
        let md = era::read_superblock(&mut Cursor::new(&bytes)).unwrap();
        check_superblock(name, &md, &exp.superblock);
        assert_eq!(md.location, era::SUPERBLOCK_LOCATION);
        assert!(!md.is_snapshot());
        assert_eq!(md.version, 1);
        assert_eq!(md.flags, 0);
        assert_eq!(md.metadata_block_size, Sectors(8));
        assert_eq!(
            md.space_map.nr_blocks, 4096,
            "{name}: a 16 MiB metadata device"
        );
        assert_eq!(md.metadata_snap, Some(exp.metadata_snap), "{name}");
        // Suspending archives the current writeset; the other images are of an active
        // device, whose current writeset exists (empty right after the snapshot).
        assert_eq!(
            md.current_writeset.is_none(),
            name.ends_with("-suspended"),
            "{name}"
        );

        if let Some(tool) = &era_dump {
            let img = TempImage::new(name, &bytes);
            let out = Command::new(tool).arg(&img.0).output().unwrap();
            assert!(out.status.success(), "era_dump {name}");
            let text = String::from_utf8_lossy(&out.stdout);
            let first = text.lines().next().unwrap().trim();
            let first = first
                .trim_start_matches("<superblock")
                .trim_end_matches('>');
            check_superblock(name, &md, &attributes(first));
        }
    }
}

#[test]
fn snapshot_superblocks() {
    for name in IMAGES {
        let mut dev = Cursor::new(image(name));
        let exp = expected(name);
        let live = era::read_superblock(&mut dev).unwrap();
        let snap = era::read_snapshot_superblock(&mut dev).unwrap();
        assert_eq!(snap.location, exp.metadata_snap, "{name}");
        assert!(snap.is_snapshot());
        // A copy of the superblock committed by take_metadata_snap, before it recorded
        // itself in the live one.
        assert_eq!(snap.metadata_snap, None, "{name}");
        assert_eq!(snap.block_size, live.block_size);
        assert_eq!(snap.nr_blocks, live.nr_blocks);
        // Every image here was copied after the snapshot, in the era it started.
        let at_snap = expected(&format!("{}-at-snap", name.split('-').next().unwrap()));
        assert_eq!(
            snap.current_era.to_string(),
            at_snap.superblock["current_era"],
            "{name}"
        );
        let path = TempImage::new(name, dev.get_ref());
        assert_eq!(era::read_superblock_path(&path.0, true).unwrap(), snap);
        assert_eq!(era::read_superblock_path(&path.0, false).unwrap(), live);
    }
}

#[test]
fn writesets_and_era_array_match_era_dump() {
    for name in IMAGES {
        let mut dev = Cursor::new(image(name));
        let exp = expected(name);
        let md = era::read_superblock(&mut dev).unwrap();

        let archived = era::archived_writesets(&mut dev, &md).unwrap();
        let got: Vec<(u32, u32, String)> = archived
            .iter()
            .map(|ws| {
                let bits = era::writeset_bits(&mut dev, &md, &ws.writeset).unwrap();
                (ws.era, ws.writeset.nr_bits, fmt_ranges(&bits))
            })
            .collect();
        assert_eq!(got, exp.writesets, "{name}: archived writesets");

        let eras = era::era_array(&mut dev, &md).unwrap();
        assert_eq!(eras.len() as u64, nr_blocks(&exp));
        let mut by_era: BTreeMap<u32, ChunkBitmap> = BTreeMap::new();
        for (block, &e) in eras.iter().enumerate().filter(|(_, &e)| e != 0) {
            by_era
                .entry(e)
                .or_insert_with(|| ChunkBitmap::new(eras.len() as u64))
                .set(block as u64)
                .unwrap();
        }
        let got: BTreeMap<u32, String> = by_era.iter().map(|(&e, b)| (e, fmt_ranges(b))).collect();
        assert_eq!(got, exp.era_array, "{name}: era array");

        let current = match &md.current_writeset {
            Some(ws) => fmt_ranges(&era::writeset_bits(&mut dev, &md, ws).unwrap()),
            None => String::new(),
        };
        assert_eq!(current, exp.current_writeset, "{name}: current writeset");
    }
}

/// `blocks_written_since` through the live superblock is `era_invalidate --written-since`
/// plus the current writeset (which the tool ignores) when the current era qualifies.
#[test]
fn written_since_live_matches_era_invalidate() {
    let era_invalidate = tool("era_invalidate");
    for name in IMAGES {
        let bytes = image(name);
        let exp = expected(name);
        let nr = nr_blocks(&exp);
        let mut dev = Cursor::new(bytes.clone());
        let md = era::read_superblock(&mut dev).unwrap();
        let img = era_invalidate
            .as_ref()
            .map(|_| TempImage::new(name, &bytes));
        for (e, tool_out) in exp.live.iter().enumerate() {
            let e = e as u32;
            let mut want = parse_ranges(tool_out, nr);
            if md.current_era >= e {
                want.union_with(&parse_ranges(&exp.current_writeset, nr))
                    .unwrap();
            }
            assert_eq!(
                since(&mut dev, e, false),
                fmt_ranges(&want),
                "{name} since {e}"
            );

            if let (Some(tool), Some(img)) = (&era_invalidate, &img) {
                let out = Command::new(tool)
                    .args(["--written-since", &e.to_string()])
                    .arg(&img.0)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "era_invalidate {name} {e}");
                let now = xml_ranges(&String::from_utf8_lossy(&out.stdout), nr);
                assert_eq!(&now, tool_out, "{name} since {e}: host era_invalidate");
            }
        }
    }
}

/// Through the metadata snapshot the result is what `era_invalidate` says of the live
/// superblock of a copy taken right after `take_metadata_snap` (the C++ tools 0.9.0
/// ignore `--metadata-snapshot` and read the live superblock, so the tool cannot be
/// asked directly).
#[test]
fn written_since_snapshot_matches_era_invalidate_at_the_snapshot() {
    let era_invalidate = tool("era_invalidate");
    for group in ["small", "grown", "big"] {
        let at_snap_name = format!("{group}-at-snap");
        let at_snap = image(&at_snap_name);
        let img = era_invalidate
            .as_ref()
            .map(|_| TempImage::new(&at_snap_name, &at_snap));
        let mut at_snap = Cursor::new(at_snap);
        for name in IMAGES.iter().filter(|n| n.starts_with(group)) {
            let exp = expected(name);
            let nr = nr_blocks(&exp);
            let mut dev = Cursor::new(image(name));
            for (e, want) in exp.snap.iter().enumerate() {
                let e = e as u32;
                let got = since(&mut dev, e, true);
                assert_eq!(&got, want, "{name} snapshot since {e}");
                // The copy at the snapshot has an empty current writeset, so our live
                // reading of it is the tool's too.
                assert_eq!(
                    since(&mut at_snap, e, false),
                    got,
                    "{at_snap_name} since {e}"
                );
                if let (Some(tool), Some(img)) = (&era_invalidate, &img) {
                    let out = Command::new(tool)
                        .args(["--written-since", &e.to_string()])
                        .arg(&img.0)
                        .output()
                        .unwrap();
                    let now = xml_ranges(&String::from_utf8_lossy(&out.stdout), nr);
                    assert_eq!(now, got, "{at_snap_name} since {e}: host era_invalidate");
                }
            }
        }
    }
}

/// Suspending only archives the current writeset: reading the active copy must give what
/// the tool says of the suspended one.
#[test]
fn active_device_reads_like_the_suspended_copy() {
    for group in ["small", "big"] {
        let suspended = expected(&format!("{group}-suspended"));
        let mut active = Cursor::new(image(&format!("{group}-active")));
        for (e, want) in suspended.live.iter().enumerate() {
            assert_eq!(
                &since(&mut active, e as u32, false),
                want,
                "{group} since {e}"
            );
        }
    }
}

#[test]
fn path_helpers_read_like_cursors() {
    let bytes = image("small-active");
    let img = TempImage::new("small-active-path", &bytes);
    let mut dev = Cursor::new(bytes);
    for e in 0..6 {
        for snapshot in [false, true] {
            let got = era::blocks_written_since_path(&img.0, e, snapshot).unwrap();
            let want = era::blocks_written_since(&mut dev, e, snapshot).unwrap();
            assert_eq!(got, want, "since {e}, snapshot {snapshot}");
        }
        // The live read without a snapshot (status) reads the live superblock's view.
        let live = era::blocks_written_since_live_path(&img.0, e, 1).unwrap();
        let want = era::blocks_written_since(&mut dev, e, false).unwrap();
        assert_eq!(live, Some(want), "live since {e}");
    }
}

// ---------------------------------------------------------------------------------------
// Corruption

fn block_mut(img: &mut [u8], block: u64) -> &mut [u8] {
    let at = block as usize * BLOCK;
    &mut img[at..at + BLOCK]
}

/// Recomputes the checksum of `block` with `seed`, as the kernel would have written it.
fn reseal(img: &mut [u8], block: u64, seed: u32) {
    let b = block_mut(img, block);
    let csum = era::metadata_checksum(&b[4..], seed);
    b[..4].copy_from_slice(&csum.to_le_bytes());
}

/// The checksum seed that validates `block` as it is, if any.
fn seed_of(img: &[u8], block: u64) -> Option<u32> {
    let b = &img[block as usize * BLOCK..(block as usize + 1) * BLOCK];
    let stored = u32::from_le_bytes(b[..4].try_into().unwrap());
    [SUPERBLOCK_CSUM_XOR, BTREE_CSUM_XOR, ARRAY_CSUM_XOR]
        .into_iter()
        .find(|&seed| era::metadata_checksum(&b[4..], seed) == stored)
}

fn put32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(img: &mut [u8], at: usize, v: u64) {
    img[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get64(img: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(img[at..at + 8].try_into().unwrap())
}

fn superblock(img: &[u8]) -> EraMetadata {
    era::read_superblock(&mut Cursor::new(img)).unwrap()
}

fn corrupt_detail(err: &FormatError) -> &str {
    match err {
        FormatError::Corrupt { detail, .. } => detail,
        other => panic!("expected a Corrupt error, got {other:?}"),
    }
}

#[test]
fn flipped_superblock_byte_is_a_checksum_error() {
    let mut img = image("small-active");
    img[180] ^= 0x10; // nr_blocks
    let err = era::read_superblock(&mut Cursor::new(&img)).unwrap_err();
    assert!(
        matches!(err, FormatError::BadChecksum { offset: 0, .. }),
        "{err:?}"
    );
    assert!(era::blocks_written_since(&mut Cursor::new(&img), 1, false).is_err());
    // The snapshot is found through the live superblock, so it is lost too.
    assert!(era::blocks_written_since(&mut Cursor::new(&img), 1, true).is_err());

    let mut img = image("small-active");
    img[33] ^= 1; // magic
    let err = era::read_superblock(&mut Cursor::new(&img)).unwrap_err();
    assert!(
        matches!(err, FormatError::BadMagic { offset: 32, .. }),
        "{err:?}"
    );

    let zeros = vec![0u8; 16 * BLOCK];
    let err = era::read_superblock(&mut Cursor::new(&zeros)).unwrap_err();
    assert!(matches!(err, FormatError::BadMagic { .. }), "{err:?}");
}

#[test]
fn resealed_superblock_fields_are_checked() {
    let pristine = image("small-active");
    let cases: [(&str, usize, u64, usize); 7] = [
        ("version 2", 40, 2, 4),
        ("block size 12", 172, 12, 4),
        ("metadata block size 16", 176, 16, 4),
        ("nr_blocks 2^31", 180, 1 << 31, 4),
        ("era array root past the space map", 208, 4096, 8),
        ("writeset tree root 0", 200, 0, 8),
        ("blocknr 7", 8, 7, 8),
    ];
    for (what, at, value, size) in cases {
        let mut img = pristine.clone();
        if size == 4 {
            put32(&mut img, at, value as u32);
        } else {
            put64(&mut img, at, value);
        }
        reseal(&mut img, 0, SUPERBLOCK_CSUM_XOR);
        let err = era::read_superblock(&mut Cursor::new(&img)).unwrap_err();
        match what {
            "version 2" => assert!(
                matches!(err, FormatError::UnsupportedVersion { found: 2, .. }),
                "{err:?}"
            ),
            _ => {
                corrupt_detail(&err);
            }
        }
    }
}

#[test]
fn missing_snapshot_is_reported() {
    let mut img = image("small-active");
    put64(&mut img, 216, 0);
    reseal(&mut img, 0, SUPERBLOCK_CSUM_XOR);
    let err = era::read_snapshot_superblock(&mut Cursor::new(&img)).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::InvalidField {
                field: "metadata_snap",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(era::blocks_written_since(&mut Cursor::new(&img), 1, true).is_err());
    assert!(era::blocks_written_since(&mut Cursor::new(&img), 1, false).is_ok());

    // A snapshot pointer at a block that is no superblock.
    let mut img = image("small-active");
    let md = superblock(&img);
    put64(&mut img, 216, md.era_array_root);
    reseal(&mut img, 0, SUPERBLOCK_CSUM_XOR);
    assert!(era::read_snapshot_superblock(&mut Cursor::new(&img)).is_err());
}

#[test]
fn flipped_btree_node_byte_is_a_checksum_error() {
    let pristine = image("small-suspended");
    let live = superblock(&pristine);
    for root in [live.writeset_tree_root, live.era_array_root] {
        let mut img = pristine.clone();
        block_mut(&mut img, root)[100] ^= 0x04;
        let err = era::blocks_written_since(&mut Cursor::new(&img), 2, false).unwrap_err();
        match err {
            FormatError::BadChecksum { offset, .. } => assert_eq!(offset, root * 4096),
            other => panic!("{other:?}"),
        }
        // The snapshot holds its own copies of both trees.
        assert_eq!(
            era::blocks_written_since(&mut Cursor::new(&img), 2, true).unwrap(),
            era::blocks_written_since(&mut Cursor::new(&pristine), 2, true).unwrap()
        );
    }
}

#[test]
fn flipped_array_block_byte_is_a_checksum_error() {
    let mut img = image("small-active");
    let md = superblock(&img);
    // The era array of 1024 entries is one leaf naming one array block.
    let leaf = block_mut(&mut img, md.era_array_root);
    assert_eq!(
        u32::from_le_bytes(leaf[4..8].try_into().unwrap()),
        2,
        "a leaf"
    );
    let max_entries = u32::from_le_bytes(leaf[20..24].try_into().unwrap()) as usize;
    let array_block = get64(leaf, 32 + 8 * max_entries);
    block_mut(&mut img, array_block)[2000] ^= 0x80;
    let err = era::era_array(&mut Cursor::new(&img), &md).unwrap_err();
    assert!(
        matches!(err, FormatError::BadChecksum { offset, .. } if offset == array_block * 4096),
        "{err:?}"
    );
}

/// The big images' era array (258 array blocks) has an internal root node.
fn internal_root(img: &[u8]) -> (u64, usize, usize) {
    let md = superblock(img);
    let root = md.era_array_root;
    let node = &img[root as usize * BLOCK..];
    assert_eq!(
        u32::from_le_bytes(node[4..8].try_into().unwrap()),
        1,
        "internal"
    );
    let nr = u32::from_le_bytes(node[16..20].try_into().unwrap()) as usize;
    let max = u32::from_le_bytes(node[20..24].try_into().unwrap()) as usize;
    assert!(nr >= 2);
    (root, nr, root as usize * BLOCK + 32 + 8 * max)
}

#[test]
fn btree_cycles_and_bad_pointers_are_reported() {
    let pristine = image("big-suspended");
    let (root, _, values_at) = internal_root(&pristine);
    let first_child = get64(&pristine, values_at);
    let md = superblock(&pristine);

    let cases: [(&str, u64, &str); 4] = [
        ("child 1 = the root", root, "reached twice"),
        ("child 1 = child 0", first_child, "reached twice"),
        ("child 1 = superblock", 0, "outside the metadata blocks"),
        (
            "child 1 past the end",
            1 << 40,
            "outside the metadata blocks",
        ),
    ];
    for (what, child, says) in cases {
        let mut img = pristine.clone();
        put64(&mut img, values_at + 8, child);
        reseal(&mut img, root, BTREE_CSUM_XOR);
        let err = era::era_array(&mut Cursor::new(&img), &md).unwrap_err();
        assert!(corrupt_detail(&err).contains(says), "{what}: {err}");
        assert!(era::blocks_written_since(&mut Cursor::new(&img), 1, false).is_err());
    }

    // A leaf of internal-node type pointing back at the root: caught as a revisit.
    let mut img = pristine.clone();
    let child_at = first_child as usize * BLOCK;
    let leaf_max = u32::from_le_bytes(img[child_at + 20..child_at + 24].try_into().unwrap());
    put32(&mut img, child_at + 4, 1);
    put64(&mut img, child_at + 32 + 8 * leaf_max as usize, root);
    reseal(&mut img, first_child, BTREE_CSUM_XOR);
    assert!(era::era_array(&mut Cursor::new(&img), &md).is_err());
}

#[test]
fn out_of_order_keys_and_late_eras_are_reported() {
    // big-at-snap's live writeset tree holds eras 1, 2 and 3 in one leaf.
    let mut img = image("big-at-snap");
    let md = superblock(&img);
    let leaf = md.writeset_tree_root as usize * BLOCK;
    assert_eq!(get64(&img, leaf + 32), 1);
    put64(&mut img, leaf + 32, 2);
    put64(&mut img, leaf + 40, 1);
    reseal(&mut img, md.writeset_tree_root, BTREE_CSUM_XOR);
    let err = era::archived_writesets(&mut Cursor::new(&img), &md).unwrap_err();
    assert!(corrupt_detail(&err).contains("keys must increase"), "{err}");

    // A writeset of an era after the current one.
    let mut img = image("big-at-snap");
    put64(&mut img, leaf + 48, 9);
    reseal(&mut img, md.writeset_tree_root, BTREE_CSUM_XOR);
    let err = era::archived_writesets(&mut Cursor::new(&img), &md).unwrap_err();
    assert!(
        corrupt_detail(&err).contains("after the current era"),
        "{err}"
    );

    // An era-array entry after the current era.
    let mut img = image("small-active");
    let md = superblock(&img);
    let leaf = block_mut(&mut img, md.era_array_root);
    let max_entries = u32::from_le_bytes(leaf[20..24].try_into().unwrap()) as usize;
    let array_block = get64(leaf, 32 + 8 * max_entries);
    put32(block_mut(&mut img, array_block), 24 + 4 * 7, 99);
    reseal(&mut img, array_block, ARRAY_CSUM_XOR);
    let err = era::blocks_written_since(&mut Cursor::new(&img), 1, false).unwrap_err();
    assert!(
        corrupt_detail(&err).contains("origin block 7 has era 99"),
        "{err}"
    );
}

#[test]
fn truncated_device_is_reported() {
    let img = image("small-active");
    let md = superblock(&img);
    let short = &img[..(md.era_array_root as usize) * BLOCK];
    let err = era::blocks_written_since(&mut Cursor::new(short), 1, false).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err:?}");
    let err = era::read_superblock(&mut Cursor::new(&img[..100])).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err:?}");
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The blocks the live and snapshot superblocks reach, found by parsing the nodes
/// directly (the image is intact): damage there is what the reader must notice.
fn reachable_blocks(img: &[u8]) -> Vec<u64> {
    let live = superblock(img);
    let snap = era::read_snapshot_superblock(&mut Cursor::new(img)).unwrap();
    let mut todo = vec![0, snap.location];
    for md in [&live, &snap] {
        todo.extend([md.writeset_tree_root, md.era_array_root]);
        todo.extend(md.current_writeset.map(|ws| ws.root));
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(b) = todo.pop() {
        if !seen.insert(b) || seed_of(img, b) != Some(BTREE_CSUM_XOR) {
            continue;
        }
        let node = &img[b as usize * BLOCK..(b as usize + 1) * BLOCK];
        let word = |at: usize| u32::from_le_bytes(node[at..at + 4].try_into().unwrap()) as usize;
        let (nr, max, value_size) = (word(16), word(20), word(24));
        for i in 0..nr {
            let at = 32 + 8 * max + value_size * i;
            // Child nodes and array blocks are u64 values; writesets keep their bitset
            // root after a u32 bit count.
            let ptr = if value_size == 12 { at + 4 } else { at };
            todo.push(get64(node, ptr));
        }
    }
    seen.into_iter().collect()
}

/// Random byte damage in the blocks the superblocks reach, raw and resealed (so the structure checks
/// behind the checksums are exercised): every read must return, Ok or Err.
#[test]
fn random_damage_never_panics() {
    for (name, rounds) in [("small-suspended", 1000), ("big-at-snap", 25)] {
        let mut img = image(name);
        let blocks = reachable_blocks(&img);
        assert!(blocks.len() > 10, "{name}: {} blocks reached", blocks.len());
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let (mut errors, mut oks) = (0, 0);
        for round in 0..rounds {
            let block = blocks[(rng.next() % blocks.len() as u64) as usize];
            let seed = seed_of(&img, block).unwrap();
            let saved = block_mut(&mut img, block).to_vec();
            // Mostly headers and the first entries, where the structure lives.
            let at = 4 + (rng.next() % if round % 2 == 0 { 300 } else { 4092 }) as usize;
            block_mut(&mut img, block)[at] ^= 1 << (rng.next() % 8);
            if round % 3 != 0 {
                reseal(&mut img, block, seed);
            }
            let mut dev = Cursor::new(&img);
            for era in [0, 2, 4] {
                for snapshot in [false, true] {
                    match era::blocks_written_since(&mut dev, era, snapshot) {
                        Ok(_) => oks += 1,
                        Err(_) => errors += 1,
                    }
                }
            }
            if let Ok(md) = era::read_superblock(&mut dev) {
                let _ = era::era_array(&mut dev, &md);
                if let Ok(sets) = era::archived_writesets(&mut dev, &md) {
                    for ws in sets {
                        let _ = era::writeset_bits(&mut dev, &md, &ws.writeset);
                    }
                }
            }
            block_mut(&mut img, block).copy_from_slice(&saved);
        }
        assert!(errors > 0 && oks > 0, "{name}: {errors} errors, {oks} oks");
    }
}
