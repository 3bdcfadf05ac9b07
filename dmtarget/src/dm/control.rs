//! The device-mapper control handle: one method per kernel operation, by device name.

use std::path::PathBuf;

use devicemapper::{DevId, DmFlags, DmName, DmOptions, DmUuid, DM};

use super::node;
use crate::table::{DevRef, StatusLine, Table, TableError};

/// Errors from device-mapper operations; each names the device and the operation.
#[derive(Debug, thiserror::Error)]
pub enum DmError {
    #[error("device-mapper is not available on this host ({0}); is the dm-mod module loaded?")]
    Unavailable(String),
    #[error("device-mapper {op} of {name} failed: {detail}")]
    Op {
        op: &'static str,
        name: String,
        detail: String,
    },
    #[error("kernel table of {name} could not be parsed: {source}")]
    Table {
        name: String,
        #[source]
        source: TableError,
    },
    #[error("invalid device-mapper name {0:?}")]
    BadName(String),
}

/// Whether a suspend freezes a file system mounted on the device first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lockfs {
    /// Freeze the file system (consistent point in time for mounted volumes).
    Freeze,
    /// Do not freeze (devices nobody mounts: COW stores, hidden devices).
    Skip,
}

/// What the kernel reports about one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevInfo {
    pub name: String,
    pub major: u32,
    pub minor: u32,
    pub open_count: i32,
    pub event_nr: u32,
    pub suspended: bool,
    pub read_only: bool,
    pub has_active_table: bool,
    pub has_inactive_table: bool,
}

impl DevInfo {
    pub fn devref(&self) -> DevRef {
        DevRef::MajMin(self.major, self.minor)
    }
}

/// One open handle on `/dev/mapper/control`.
pub struct DmControl {
    dm: DM,
}

impl std::fmt::Debug for DmControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DmControl")
    }
}

fn dm_name(name: &str) -> Result<&DmName, DmError> {
    DmName::new(name).map_err(|_| DmError::BadName(name.to_string()))
}

fn op_err(op: &'static str, name: &str, e: impl std::fmt::Display) -> DmError {
    DmError::Op {
        op,
        name: name.to_string(),
        detail: e.to_string(),
    }
}

impl DmControl {
    /// Opens the control device; `Unavailable` on hosts without device-mapper.
    pub fn open() -> Result<DmControl, DmError> {
        if !std::path::Path::new("/dev/mapper/control").exists() {
            return Err(DmError::Unavailable("no /dev/mapper/control".into()));
        }
        let dm = DM::new().map_err(|e| DmError::Unavailable(e.to_string()))?;
        Ok(DmControl { dm })
    }

    /// Path applications open for a device.
    pub fn node_path(name: &str) -> PathBuf {
        node::path(name)
    }

    pub fn info(&self, name: &str) -> Result<Option<DevInfo>, DmError> {
        let id = DevId::Name(dm_name(name)?);
        match self.dm.device_info(&id) {
            Ok(info) => {
                let flags = info.flags();
                let dev = info.device();
                Ok(Some(DevInfo {
                    name: name.to_string(),
                    major: dev.major,
                    minor: dev.minor,
                    open_count: info.open_count(),
                    event_nr: info.event_nr(),
                    suspended: flags.contains(DmFlags::DM_SUSPEND),
                    read_only: flags.contains(DmFlags::DM_READONLY),
                    has_active_table: flags.contains(DmFlags::DM_ACTIVE_PRESENT),
                    has_inactive_table: flags.contains(DmFlags::DM_INACTIVE_PRESENT),
                }))
            }
            Err(e) if is_enxio(&e) => Ok(None),
            Err(e) => Err(op_err("info", name, e)),
        }
    }

    pub fn exists(&self, name: &str) -> Result<bool, DmError> {
        Ok(self.info(name)?.is_some())
    }

    /// Names of all devices whose name starts with `prefix`.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, DmError> {
        let devs = self
            .dm
            .list_devices()
            .map_err(|e| op_err("list", prefix, e))?;
        let mut names: Vec<String> = devs
            .into_iter()
            .map(|(n, _, _)| n.to_string())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Creates a device with an empty table (suspended, no node yet).
    pub fn create_empty(&self, name: &str, uuid: Option<&str>) -> Result<DevInfo, DmError> {
        let uuid = match uuid {
            Some(u) => Some(DmUuid::new(u).map_err(|_| DmError::BadName(u.to_string()))?),
            None => None,
        };
        self.dm
            .device_create(dm_name(name)?, uuid, DmOptions::default())
            .map_err(|e| op_err("create", name, e))?;
        self.info(name)?
            .ok_or_else(|| op_err("create", name, "device vanished after create"))
    }

    /// Creates, loads and resumes a device; removes it again if any step fails.
    pub fn create(
        &self,
        name: &str,
        uuid: Option<&str>,
        table: &Table,
        read_only: bool,
    ) -> Result<DevInfo, DmError> {
        self.create_empty(name, uuid)?;
        let result = self
            .load(name, table, read_only)
            .and_then(|_| self.resume(name));
        match result {
            Ok(()) => self
                .info(name)?
                .ok_or_else(|| op_err("create", name, "device vanished after resume")),
            Err(e) => {
                let _ = self.remove(name);
                Err(e)
            }
        }
    }

    /// Loads `table` into the inactive slot; the next resume makes it live.
    pub fn load(&self, name: &str, table: &Table, read_only: bool) -> Result<(), DmError> {
        let id = DevId::Name(dm_name(name)?);
        let mut opts = DmOptions::default();
        if read_only {
            opts = opts.set_flags(DmFlags::DM_READONLY);
        }
        self.dm
            .table_load(&id, &table.to_dm_tuples(), opts)
            .map(|_| ())
            .map_err(|e| op_err("table load", name, format!("{e} (table: {table})")))
    }

    /// Drops a loaded but not yet resumed table.
    pub fn clear_inactive(&self, name: &str) -> Result<(), DmError> {
        let id = DevId::Name(dm_name(name)?);
        self.dm
            .table_clear(&id)
            .map(|_| ())
            .map_err(|e| op_err("table clear", name, e))
    }

    /// Suspends a device, flushing in-flight I/O; `Lockfs::Freeze` also freezes a mounted
    /// file system so the point in time is consistent.
    pub fn suspend(&self, name: &str, lockfs: Lockfs) -> Result<(), DmError> {
        let id = DevId::Name(dm_name(name)?);
        let mut flags = DmFlags::DM_SUSPEND;
        if lockfs == Lockfs::Skip {
            flags |= DmFlags::DM_SKIP_LOCKFS;
        }
        self.dm
            .device_suspend(&id, DmOptions::default().set_flags(flags))
            .map(|_| ())
            .map_err(|e| op_err("suspend", name, e))
    }

    /// Resumes a device; a loaded inactive table becomes live.
    pub fn resume(&self, name: &str) -> Result<(), DmError> {
        let id = DevId::Name(dm_name(name)?);
        let info = self
            .dm
            .device_suspend(&id, DmOptions::default())
            .map_err(|e| op_err("resume", name, e))?;
        let dev = info.device();
        node::ensure(name, dev.major, dev.minor).map_err(|e| op_err("node", name, e))
    }

    pub fn remove(&self, name: &str) -> Result<(), DmError> {
        let id = DevId::Name(dm_name(name)?);
        self.dm
            .device_remove(&id, DmOptions::default())
            .map_err(|e| op_err("remove", name, e))?;
        node::remove(name).map_err(|e| op_err("node", name, e))
    }

    /// The live table as the kernel prints it.
    pub fn table(&self, name: &str) -> Result<Table, DmError> {
        let id = DevId::Name(dm_name(name)?);
        let (_, lines) = self
            .dm
            .table_status(
                &id,
                DmOptions::default().set_flags(DmFlags::DM_STATUS_TABLE),
            )
            .map_err(|e| op_err("table", name, e))?;
        let text = lines
            .iter()
            .map(|(s, l, t, p)| format!("{s} {l} {t} {p}"))
            .collect::<Vec<_>>()
            .join("\n");
        text.parse::<Table>().map_err(|source| DmError::Table {
            name: name.to_string(),
            source,
        })
    }

    /// Status lines (STATUSTYPE_INFO); callers parse `rest` with the target's parser.
    pub fn status(&self, name: &str) -> Result<Vec<StatusLine>, DmError> {
        let id = DevId::Name(dm_name(name)?);
        let (_, lines) = self
            .dm
            .table_status(&id, DmOptions::default().set_flags(DmFlags::DM_NOFLUSH))
            .map_err(|e| op_err("status", name, e))?;
        lines
            .iter()
            .map(|(s, l, t, p)| {
                format!("{s} {l} {t} {p}")
                    .parse::<StatusLine>()
                    .map_err(|source| DmError::Table {
                        name: name.to_string(),
                        source,
                    })
            })
            .collect()
    }

    /// Sends a target message (e.g. dm-era `checkpoint`).
    pub fn message(&self, name: &str, msg: &str) -> Result<Option<String>, DmError> {
        let id = DevId::Name(dm_name(name)?);
        self.dm
            .target_msg(&id, None, msg)
            .map(|(_, out)| out)
            .map_err(|e| op_err("message", name, e))
    }

    /// Target types the kernel knows now, with versions.
    pub fn targets(&self) -> Result<Vec<(String, u32, u32, u32)>, DmError> {
        self.dm
            .list_versions()
            .map_err(|e| op_err("list versions", "-", e))
    }
}

fn is_enxio(e: &devicemapper::DmError) -> bool {
    let s = format!("{e:?}");
    s.contains("ENXIO")
}
