//! A multi-device reconfiguration with roll-back.
//!
//! Every step records how to undo it. `commit` forgets the undo log; dropping an
//! uncommitted transaction (or calling `rollback`) walks the log backwards, so on any
//! failure every device returns to the table it had and nothing stays suspended.

use super::{DmControl, DmError, Lockfs};
use crate::table::Table;

#[derive(Debug)]
enum Undo {
    /// The device was created by this transaction.
    Remove(String),
    /// The device was suspended by this transaction.
    Resume(String),
    /// A table was loaded into the inactive slot and not yet resumed.
    ClearInactive(String),
    /// A new table went live: put the old one back.
    RestoreTable {
        name: String,
        table: Table,
        read_only: bool,
    },
}

/// See the module documentation.
#[derive(Debug)]
pub struct Txn<'a> {
    dm: &'a DmControl,
    undo: Vec<Undo>,
    /// Live tables captured before a load, consumed by the matching resume.
    before: Vec<(String, Table, bool)>,
}

impl<'a> Txn<'a> {
    pub fn new(dm: &'a DmControl) -> Txn<'a> {
        Txn {
            dm,
            undo: Vec::new(),
            before: Vec::new(),
        }
    }

    pub fn dm(&self) -> &'a DmControl {
        self.dm
    }

    /// Creates a live device; undone by removing it.
    pub fn create(
        &mut self,
        name: &str,
        uuid: Option<&str>,
        table: &Table,
        read_only: bool,
    ) -> Result<super::DevInfo, DmError> {
        let info = self.dm.create(name, uuid, table, read_only)?;
        self.undo.push(Undo::Remove(name.to_string()));
        Ok(info)
    }

    pub fn suspend(&mut self, name: &str, lockfs: Lockfs) -> Result<(), DmError> {
        self.dm.suspend(name, lockfs)?;
        self.undo.push(Undo::Resume(name.to_string()));
        Ok(())
    }

    /// Loads a table that goes live at the next `resume` of this device.
    pub fn load(&mut self, name: &str, table: &Table, read_only: bool) -> Result<(), DmError> {
        let info = self.dm.info(name)?.ok_or_else(|| DmError::Op {
            op: "table load",
            name: name.to_string(),
            detail: "no such device".into(),
        })?;
        if info.has_active_table {
            let old = self.dm.table(name)?;
            self.before.retain(|(n, _, _)| n != name);
            self.before.push((name.to_string(), old, info.read_only));
        }
        self.dm.load(name, table, read_only)?;
        self.undo.push(Undo::ClearInactive(name.to_string()));
        Ok(())
    }

    pub fn resume(&mut self, name: &str) -> Result<(), DmError> {
        self.dm.resume(name)?;
        if let Some(pos) = self.before.iter().position(|(n, _, _)| n == name) {
            let (name, table, read_only) = self.before.remove(pos);
            self.undo.push(Undo::RestoreTable {
                name,
                table,
                read_only,
            });
        }
        Ok(())
    }

    /// Removes a device for good; not undoable, so do it last, after everything that
    /// can fail.
    pub fn remove(&mut self, name: &str) -> Result<(), DmError> {
        self.dm.remove(name)
    }

    /// Keeps every change.
    pub fn commit(mut self) {
        self.undo.clear();
    }

    /// Undoes every recorded step, newest first; returns the errors met on the way (the
    /// roll-back goes on past them so as much as possible is restored).
    pub fn rollback(mut self) -> Vec<DmError> {
        self.run_undo()
    }

    fn run_undo(&mut self) -> Vec<DmError> {
        let mut errors = Vec::new();
        while let Some(step) = self.undo.pop() {
            let r = match &step {
                Undo::Remove(n) => self.dm.remove(n),
                Undo::Resume(n) => self.dm.resume(n),
                Undo::ClearInactive(n) => match self.dm.info(n) {
                    Ok(Some(i)) if i.has_inactive_table => self.dm.clear_inactive(n),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                },
                Undo::RestoreTable {
                    name,
                    table,
                    read_only,
                } => self
                    .dm
                    .suspend(name, Lockfs::Skip)
                    .and_then(|_| self.dm.load(name, table, *read_only))
                    .and_then(|_| self.dm.resume(name)),
            };
            if let Err(e) = r {
                errors.push(e);
            }
        }
        errors
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if !self.undo.is_empty() {
            let _ = self.run_undo();
        }
    }
}
