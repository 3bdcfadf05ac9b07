//! What `iiadm` prints: readable blocks and lines for people (coded values named as the
//! MOF's Values name them), and `--json`: the CIM instances' properties under their MOF
//! names, with values typed as JSON.

use serde_json::{json, Map, Value as Json};

use crate::cim::{CimDateTime, Instance, Scalar, Value};
use crate::providers::{group, set, volume};

use super::paths;
use super::valuemap;

// ---- properties -------------------------------------------------------------

/// A string property, empty when NULL.
pub fn text_of<'a>(i: &'a Instance, name: &str) -> &'a str {
    i.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn number(i: &Instance, name: &str) -> Option<u64> {
    i.get(name).and_then(Value::as_u64)
}

fn flag(i: &Instance, name: &str) -> bool {
    i.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// A string array property, empty when NULL.
pub fn string_array(i: &Instance, name: &str) -> Vec<String> {
    match i.get(name) {
        Some(Value::Array(_, items)) => items
            .iter()
            .filter_map(|s| match s {
                Some(Scalar::String(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A coded property by its MOF name (`State`: `Idle`), `-` when NULL.
fn named(i: &Instance, class: &str, property: &str) -> String {
    number(i, property).map_or_else(
        || "-".into(),
        |c| valuemap::property_text(class, property, c),
    )
}

/// The name of a set, group or volume.
pub fn name(i: &Instance) -> &str {
    text_of(i, "Name")
}

/// The first StatusDescriptions entry of a set: what the agent says of it.
pub fn status_text(i: &Instance) -> Option<String> {
    string_array(i, "StatusDescriptions").into_iter().next()
}

/// Set states with a copy or update in progress, suspended or aborted (2 to 5), when
/// Direction and PercentCompleted mean something.
fn copying(i: &Instance) -> bool {
    matches!(number(i, "State"), Some(s) if (set::state::COPY_IN_PROGRESS..=set::state::ABORTED).contains(&(s as u16)))
}

// ---- units ------------------------------------------------------------------

/// Bytes with a binary unit: `32.0 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A CIM datetime as people read it: `2026-11-25 13:01:50 UTC`.
pub fn datetime(d: &CimDateTime) -> String {
    match *d {
        CimDateTime::Timestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            utc_offset,
            ..
        } => {
            let zone = if utc_offset == 0 {
                "UTC".to_string()
            } else {
                format!(
                    "UTC{}{:02}:{:02}",
                    if utc_offset < 0 { '-' } else { '+' },
                    utc_offset.unsigned_abs() / 60,
                    utc_offset.unsigned_abs() % 60
                )
            };
            format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} {zone}")
        }
        CimDateTime::Interval {
            days,
            hours,
            minutes,
            seconds,
            ..
        } => format!("{days} days {hours:02}:{minutes:02}:{seconds:02}"),
    }
}

fn datetime_of(i: &Instance, name: &str) -> String {
    match i.get(name).and_then(Value::as_scalar) {
        Some(Scalar::DateTime(d)) => datetime(d),
        _ => "-".into(),
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// Lines `label: value` with the values aligned.
fn block(title: String, rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
    let mut out = title;
    for (label, value) in rows {
        out.push_str(&format!("\n  {:<width$} {value}", format!("{label}:")));
    }
    out.push('\n');
    out
}

/// Rows of cells as aligned columns.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (k, (c, w)) in cells.iter().zip(&width).enumerate() {
            if k == last {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

// ---- sets -------------------------------------------------------------------

/// `web: idle; 100% synchronized (...)`: one set in one line, in the agent's words.
pub fn set_summary(i: &Instance) -> String {
    let state = status_text(i).unwrap_or_else(|| named(i, set::CLASS, "State"));
    format!("{}: {state}\n", name(i))
}

/// A set's state with its progress: `Copy In Progress 42%`, `Idle`.
fn state_with_progress(i: &Instance) -> String {
    let state = named(i, set::CLASS, "State");
    match number(i, "PercentCompleted") {
        Some(p) if copying(i) => format!("{state} {p}%"),
        _ => state,
    }
}

fn volume_with_size(i: &Instance, volume: &str, size_prop: &str) -> String {
    match number(i, size_prop) {
        Some(b) => format!("{} ({})", or_dash(text_of(i, volume)), size(b)),
        None => or_dash(text_of(i, volume)).to_string(),
    }
}

/// The status of a set as iiadm -i shows it: one block of labelled lines.
pub fn set_block(i: &Instance) -> String {
    let mut kind = named(i, set::CLASS, "Type");
    if flag(i, "Compact") {
        kind.push_str(", compact");
    }
    let mut state = named(i, set::CLASS, "State");
    if copying(i) {
        state.push_str(&format!(
            ", {}",
            named(i, set::CLASS, "Direction").to_lowercase()
        ));
    }
    let percent = |p: &str| number(i, p).map_or("-".into(), |v| format!("{v}%"));
    let mut rows = vec![
        ("Type", kind),
        ("State", state),
        ("Status", status_text(i).unwrap_or_else(|| "-".into())),
        (
            "Master volume",
            volume_with_size(i, "MasterVolume", "MasterSize"),
        ),
        (
            "Shadow volume",
            volume_with_size(i, "ShadowVolume", "ShadowSize"),
        ),
        (
            "Bitmap volume",
            volume_with_size(i, "BitmapVolume", "BitmapSize"),
        ),
    ];
    if !text_of(i, "OverflowVolume").is_empty() {
        rows.push(("Overflow volume", text_of(i, "OverflowVolume").to_string()));
    }
    rows.push(("Percent completed", percent("PercentCompleted")));
    rows.push(("Percent synchronized", percent("PercentSynchronized")));
    if let (Some(chunk), Some(master)) = (number(i, "ChunkSize"), number(i, "MasterSize")) {
        if chunk > 0 {
            rows.push((
                "Chunks",
                format!("{} chunks of {}", master.div_ceil(chunk), size(chunk)),
            ));
        }
    }
    if flag(i, "Compact") {
        if let (Some(used), Some(total)) = (
            number(i, "ShadowChunksUsed"),
            number(i, "ShadowChunksTotal"),
        ) {
            rows.push(("Shadow chunks", format!("{used} used of {total}")));
        }
    }
    if number(i, "Type") == Some(u64::from(super::cli::SetType::Independent.code())) {
        let throttle = match (number(i, "CopyUnits"), number(i, "CopyDelay")) {
            (Some(u), Some(d)) => format!("{u} chunks per batch, {d} ms after each batch"),
            _ => "none (full speed)".into(),
        };
        rows.push(("Copy parameters", throttle));
    }
    rows.push(("Group", or_dash(text_of(i, "GroupName")).to_string()));
    rows.push(("Created", datetime_of(i, "InstallDate")));
    rows.push(("Last modified", datetime_of(i, "LastModified")));
    block(format!("Set {}", name(i)), &rows)
}

/// One line per set, under a header.
pub fn set_list(sets: &[Instance]) -> String {
    let rows: Vec<Vec<String>> = sets
        .iter()
        .map(|i| {
            vec![
                name(i).to_string(),
                named(i, set::CLASS, "Type"),
                state_with_progress(i),
                number(i, "PercentSynchronized").map_or("-".into(), |p| format!("{p}%")),
                or_dash(text_of(i, "GroupName")).to_string(),
                or_dash(text_of(i, "MasterVolume")).to_string(),
                or_dash(text_of(i, "ShadowVolume")).to_string(),
                or_dash(text_of(i, "BitmapVolume")).to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "TYPE", "STATE", "SYNC", "GROUP", "MASTER", "SHADOW", "BITMAP",
        ],
        &rows,
    )
}

// ---- groups -----------------------------------------------------------------

/// A group's status and one line per member set.
pub fn group_block(g: &Instance, members: &[Instance]) -> String {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let rows = vec![
        ("Type", named(g, group::CLASS, "Type")),
        ("Sets", list(string_array(g, "Members"))),
        ("Busy sets", list(string_array(g, "BusyMembers"))),
        (
            "Percent completed",
            number(g, "PercentCompleted").map_or("-".into(), |p| format!("{p}%")),
        ),
        ("Created", datetime_of(g, "InstallDate")),
    ];
    let mut out = block(format!("Group {}", name(g)), &rows);
    for m in members {
        out.push_str("  ");
        out.push_str(&set_summary(m));
    }
    out
}

/// One line per group, under a header.
pub fn group_list(groups: &[Instance]) -> String {
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let busy = string_array(g, "BusyMembers");
            vec![
                name(g).to_string(),
                named(g, group::CLASS, "Type"),
                string_array(g, "Members").len().to_string(),
                if busy.is_empty() {
                    "-".into()
                } else {
                    busy.join(",")
                },
                or_dash(&string_array(g, "Members").join(",")).to_string(),
            ]
        })
        .collect();
    table(&["NAME", "TYPE", "SETS", "BUSY", "MEMBERS"], &rows)
}

// ---- volumes ----------------------------------------------------------------

/// The agent's volumes: size, role, control, suitability and why not.
pub fn volume_table(volumes: &[Instance]) -> String {
    let rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            let note = if flag(v, "Mounted") {
                format!("mounted on {}", text_of(v, "MountPoint"))
            } else {
                text_of(v, "Reason").to_string()
            };
            vec![
                or_dash(text_of(v, "Path")).to_string(),
                number(v, "Size").map_or("-".into(), size),
                if flag(v, "Suitable") { "yes" } else { "no" }.into(),
                named(v, volume::CLASS, "Role"),
                if flag(v, "UnderControl") { "yes" } else { "no" }.into(),
                note,
            ]
        })
        .collect();
    table(
        &["PATH", "SIZE", "SUITABLE", "ROLE", "CONTROLLED", "NOTE"],
        &rows,
    )
}

// ---- JSON -------------------------------------------------------------------

fn scalar_json(s: &Scalar) -> Json {
    match s {
        Scalar::Boolean(b) => Json::Bool(*b),
        Scalar::String(s) => Json::String(s.clone()),
        Scalar::Char16(c) => Json::String(c.to_string()),
        Scalar::Real32(v) => json!(f64::from(*v)),
        Scalar::Real64(v) => json!(v),
        Scalar::Reference(p) => Json::String(paths::text(p)),
        Scalar::DateTime(_) => Json::String(s.to_text().unwrap_or_default()),
        other => match other.as_i128() {
            Some(v) if v >= 0 => json!(v as u64),
            Some(v) => json!(v as i64),
            None => Json::Null,
        },
    }
}

/// A CIM value as JSON (NULL is `null`).
pub fn value_json(v: Option<&Value>) -> Json {
    match v {
        None => Json::Null,
        Some(Value::Scalar(s)) => scalar_json(s),
        Some(Value::Array(_, items)) => Json::Array(
            items
                .iter()
                .map(|i| i.as_ref().map_or(Json::Null, scalar_json))
                .collect(),
        ),
    }
}

/// An instance as a JSON object of its properties, in the class's order.
pub fn instance_json(i: &Instance) -> Json {
    let mut m = Map::new();
    for p in &i.properties {
        m.insert(p.name.clone(), value_json(p.value.as_ref()));
    }
    Json::Object(m)
}

pub fn instances_json(list: &[Instance]) -> Json {
    Json::Array(list.iter().map(instance_json).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::CimType;

    fn set_instance() -> Instance {
        Instance::new("DS_IISet")
            .with("Name", "web")
            .with("Type", 1u16)
            .with("Compact", false)
            .with("GroupName", "")
            .with("MasterVolume", "/dev/vdb")
            .with("ShadowVolume", "/dev/vdc")
            .with("BitmapVolume", "/dev/vdd")
            .with("State", 2u16)
            .with("Direction", 2u16)
            .with("PercentCompleted", 42u8)
            .with("PercentSynchronized", 90u8)
            .with("ChunkSize", 32768u32)
            .with("MasterSize", 33_554_432u64)
            .with("ShadowSize", 33_554_432u64)
            .with("CopyUnits", 32u32)
            .with("CopyDelay", 60000u32)
            .with("LastModified", CimDateTime::from_unix(1_764_075_710, 0))
            .with(
                "StatusDescriptions",
                Value::string_array(["copying shadow to master: 42% done"]),
            )
    }

    #[test]
    fn a_set_block_has_what_an_administrator_expects() {
        let b = set_block(&set_instance());
        for s in [
            "Set web\n",
            "Type:                 Independent\n",
            "State:                Copy In Progress, shadow to master\n",
            "Status:               copying shadow to master: 42% done\n",
            "Master volume:        /dev/vdb (32.0 MiB)\n",
            "Bitmap volume:        /dev/vdd\n",
            "Percent completed:    42%\n",
            "Percent synchronized: 90%\n",
            "Chunks:               1024 chunks of 32.0 KiB\n",
            "Copy parameters:      32 chunks per batch, 60000 ms after each batch\n",
            "Group:                -\n",
            "Created:              -\n",
            "Last modified:        2025-11-25 13:01:50 UTC\n",
        ] {
            assert!(b.contains(s), "{s:?} missing:\n{b}");
        }
        assert!(!b.contains("Shadow chunks"), "not compact:\n{b}");
    }

    #[test]
    fn list_lines_and_summaries() {
        let mut idle = set_instance()
            .with("Name", "b")
            .with("Type", 2u16)
            .with("State", 1u16)
            .with("GroupName", "grp");
        idle.set(
            "StatusDescriptions",
            Value::string_array(["idle; 100% synchronized"]),
        );
        let l = set_list(&[set_instance(), idle.clone()]);
        let lines: Vec<&str> = l.lines().collect();
        assert_eq!(lines.len(), 3, "{l}");
        assert!(lines[0].starts_with("NAME  TYPE"), "{l}");
        assert!(lines[1].contains("Copy In Progress 42%"), "{l}");
        assert!(
            lines[2].contains("Dependent") && lines[2].contains("grp"),
            "{l}"
        );
        assert_eq!(set_summary(&idle), "b: idle; 100% synchronized\n");
    }

    #[test]
    fn groups_and_volumes() {
        let g = Instance::new("DS_IIGroup")
            .with("Name", "grp")
            .with("Type", 2u16)
            .with("Members", Value::string_array(["a", "b"]))
            .with("BusyMembers", Value::Array(CimType::String, vec![]))
            .with("PercentCompleted", 100u8);
        let b = group_block(&g, &[set_instance()]);
        assert!(b.contains("Sets:              a, b"), "{b}");
        assert!(b.contains("Busy sets:         -"), "{b}");
        assert!(b.contains("  web: copying shadow to master"), "{b}");
        let l = group_list(&[g]);
        assert!(
            l.lines().nth(1).unwrap().starts_with("grp   Dependent  2"),
            "{l}"
        );
        let v = Instance::new("DS_StorageVolume")
            .with("Path", "/dev/vdb")
            .with("Size", 1u64 << 30)
            .with("Suitable", false)
            .with("Mounted", true)
            .with("MountPoint", "/mnt")
            .with("Role", 1u16)
            .with("UnderControl", true);
        let t = volume_table(&[v]);
        assert!(
            t.lines()
                .nth(1)
                .unwrap()
                .contains("/dev/vdb  1.0 GiB  no        Master  yes         mounted on /mnt"),
            "{t}"
        );
    }

    #[test]
    fn json_keeps_cim_names_and_types() {
        let mut i = set_instance();
        i.set("OverflowVolume", Value::string(""));
        i.properties.push(crate::cim::Property::new(
            "PointInTime",
            CimType::DateTime,
            false,
        ));
        i.set("Ref", Value::reference(paths::set("web")));
        let j = instance_json(&i);
        assert_eq!(j["Name"], "web");
        assert_eq!(j["State"], 2);
        assert_eq!(j["MasterSize"], 33_554_432u64);
        assert_eq!(j["Compact"], false);
        assert_eq!(j["PointInTime"], Json::Null);
        assert_eq!(j["LastModified"], "20251125130150.000000+000");
        assert_eq!(
            j["StatusDescriptions"],
            json!(["copying shadow to master: 42% done"])
        );
        assert_eq!(j["Ref"], r#"root/dsimage:DS_IISet.Name="web""#);
    }

    #[test]
    fn units() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(32 * 1024), "32.0 KiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
        let t = CimDateTime::Timestamp {
            year: 2026,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 5,
            microsecond: 0,
            utc_offset: -90,
        };
        assert_eq!(datetime(&t), "2026-01-02 03:04:05 UTC-01:30");
        assert_eq!(
            datetime(&CimDateTime::interval_from_micros(90_061_000_000)),
            "1 days 01:01:01"
        );
    }
}
