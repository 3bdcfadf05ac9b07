//! Groups: named collections of sets of one kind whose copies and updates take one
//! common point in time. The group is configuration only; its copy starts all members'
//! operations in one freeze window (every master frozen at once), after which each
//! member's operation runs, persists and is restored as a set's own.
//!
//! A member is copied or updated only through its group; it joins and leaves while
//! idle; disabling it takes it out of the group.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::{GroupRecord, SetOp, SetRecord};
use super::dependent::save_config;
use super::independent::CopyKind;
use super::validate::check_name;
use super::{now, CopyParams, Direction, Engine, EngineError, Outcome, Result, SetKind};

/// What a user sees of a group.
#[derive(Clone, Debug, Serialize)]
pub struct GroupStatus {
    pub name: String,
    /// The kind of its sets; `None` while it has none.
    pub kind: Option<SetKind>,
    pub members: Vec<String>,
    /// Members with an operation in progress (copying, merging, a stopped copy).
    pub busy: Vec<String>,
    /// Progress of the members' copies, 0..=100 (the least advanced member); 100 when
    /// none copies.
    pub percent_completed: f64,
    pub created: u64,
}

impl Engine {
    fn group_record(&self, name: &str) -> Result<&GroupRecord> {
        self.cfg.group(name).ok_or_else(|| EngineError::NotFound {
            what: "group",
            name: name.to_string(),
        })
    }

    /// The member sets' records, in member order.
    fn group_members(&self, name: &str) -> Result<Vec<SetRecord>> {
        self.group_record(name)?
            .members
            .iter()
            .map(|m| self.set_record(m).cloned())
            .collect()
    }

    pub fn group_status(&self, name: &str) -> Result<GroupStatus> {
        let g = self.group_record(name)?;
        let mut busy = Vec::new();
        let mut kind = None;
        let mut percent = 100.0f64;
        for m in &g.members {
            let st = self.status(m)?;
            kind = Some(st.kind);
            if self.set_record(m)?.op != SetOp::Idle {
                busy.push(m.clone());
            }
            percent = percent.min(st.percent_completed);
        }
        Ok(GroupStatus {
            name: g.name.clone(),
            kind,
            members: g.members.clone(),
            busy,
            percent_completed: percent,
            created: g.created,
        })
    }

    pub fn groups(&self) -> Result<Vec<GroupStatus>> {
        self.cfg
            .groups
            .iter()
            .map(|g| self.group_status(&g.name))
            .collect()
    }

    /// Creates an empty group.
    pub fn group_create(&mut self, name: &str) -> Result<GroupStatus> {
        check_name("group", name)?;
        if self.cfg.group(name).is_some() {
            return Err(EngineError::AlreadyExists {
                what: "group",
                name: name.to_string(),
            });
        }
        let mut next = self.cfg.clone();
        next.groups.push(GroupRecord {
            name: name.to_string(),
            members: Vec::new(),
            created: now(),
        });
        save_config(&self.store, &mut self.cfg, next)?;
        self.group_status(name)
    }

    /// Deletes a group; its sets stay, ungrouped. Refused while a member is busy.
    pub fn group_delete(&mut self, name: &str) -> Result<()> {
        let st = self.group_status(name)?;
        if let Some(b) = st.busy.first() {
            return Err(EngineError::Busy(format!(
                "set {b} of group {name} is busy ({}); wait for it to finish",
                super::dependent::op_name(&self.set_record(b)?.op)
            )));
        }
        let mut next = self.cfg.clone();
        next.groups.retain(|g| g.name != name);
        save_config(&self.store, &mut self.cfg, next)
    }

    /// Adds an idle set to a group whose sets are of its kind.
    pub fn group_add(&mut self, name: &str, set: &str) -> Result<Outcome<GroupStatus>> {
        let g = self.group_record(name)?.clone();
        let rec = self.set_record(set)?.clone();
        if g.members.iter().any(|m| m == set) {
            return Ok(Outcome::Identity(self.group_status(name)?));
        }
        if let Some(other) = self.cfg.group_of(set) {
            return Err(EngineError::Conflict(format!(
                "set {set} is in group {}; a set belongs to at most one group",
                other.name
            )));
        }
        if let Some(first) = g.members.first() {
            let kind = self.set_record(first)?.kind;
            if kind != rec.kind {
                return Err(EngineError::InvalidArgument(format!(
                    "set {set} is {}, group {name} holds {kind} sets; the sets of a group are \
                     of one kind",
                    rec.kind
                )));
            }
        }
        if rec.op != SetOp::Idle {
            return Err(EngineError::Busy(format!(
                "set {set} is busy ({}); sets join a group while idle",
                super::dependent::op_name(&rec.op)
            )));
        }
        let mut next = self.cfg.clone();
        if let Some(g) = next.group_mut(name) {
            g.members.push(set.to_string());
        }
        save_config(&self.store, &mut self.cfg, next)?;
        Ok(Outcome::Changed(self.group_status(name)?))
    }

    /// Takes an idle set out of a group.
    pub fn group_remove(&mut self, name: &str, set: &str) -> Result<GroupStatus> {
        let g = self.group_record(name)?.clone();
        if !g.members.iter().any(|m| m == set) {
            return Err(EngineError::NotFound {
                what: "member",
                name: format!("{set} (of group {name})"),
            });
        }
        let rec = self.set_record(set)?;
        if rec.op != SetOp::Idle {
            return Err(EngineError::Busy(format!(
                "set {set} is busy ({}); sets leave a group while idle",
                super::dependent::op_name(&rec.op)
            )));
        }
        let mut next = self.cfg.clone();
        if let Some(g) = next.group_mut(name) {
            g.members.retain(|m| m != set);
        }
        save_config(&self.store, &mut self.cfg, next)?;
        self.group_status(name)
    }

    /// Refuses a set-level copy or update of a group member.
    pub(crate) fn check_not_grouped(&self, set: &str) -> Result<()> {
        match self.cfg.group_of(set) {
            Some(g) => Err(EngineError::Conflict(format!(
                "set {set} is in group {}: copy or update the group (one point in time for \
                 all its sets), or take the set out of it",
                g.name
            ))),
            None => Ok(()),
        }
    }

    /// Full copy of every member in `dir` at one point in time.
    pub fn group_copy(&mut self, name: &str, dir: Direction) -> Result<GroupStatus> {
        self.group_copy_or_update(name, dir, CopyKind::Full)
    }

    /// Update of every member in `dir` at one point in time.
    pub fn group_update(&mut self, name: &str, dir: Direction) -> Result<GroupStatus> {
        self.group_copy_or_update(name, dir, CopyKind::Update)
    }

    fn group_copy_or_update(
        &mut self,
        name: &str,
        dir: Direction,
        kind: CopyKind,
    ) -> Result<GroupStatus> {
        let recs = self.group_members(name)?;
        let Some(first) = recs.first() else {
            return Err(EngineError::InvalidState(format!(
                "group {name} has no sets; add sets first"
            )));
        };
        let set_kind = first.kind;
        if dir == Direction::ToMaster {
            for (i, a) in recs.iter().enumerate() {
                if let Some(b) = recs[i + 1..].iter().find(|b| b.master == a.master) {
                    return Err(EngineError::Conflict(format!(
                        "sets {} and {} of group {name} share the master {}: copying both \
                         shadows onto it at once would leave it with neither image",
                        a.name,
                        b.name,
                        a.master.display()
                    )));
                }
            }
        }
        match set_kind {
            SetKind::Dependent => {
                if let Some(b) = recs.iter().find(|r| r.op != SetOp::Idle) {
                    return Err(EngineError::Busy(format!(
                        "set {} of group {name} is busy ({}); wait for it to finish",
                        b.name,
                        super::dependent::op_name(&b.op)
                    )));
                }
                match dir {
                    Direction::ToShadow => self.dependent_resets(&recs, SetOp::Idle)?,
                    Direction::ToMaster => self.dependent_start_merges(&recs)?,
                }
            }
            SetKind::Independent => {
                if dir == Direction::ToMaster {
                    for r in &recs {
                        self.check_independent_to_master(r)?;
                    }
                }
                self.start_copies(&recs, dir, kind)?;
            }
        }
        self.group_status(name)
    }

    /// Aborts the copies of the members that copy (independent groups).
    pub fn group_abort(&mut self, name: &str) -> Result<GroupStatus> {
        self.each_copying_member(name, "aborted", |e, m| e.abort_copy(m).map(|_| ()))
    }

    /// Suspends the copies of the members that copy (independent groups).
    pub fn group_suspend(&mut self, name: &str) -> Result<GroupStatus> {
        self.each_copying_member(name, "suspended", |e, m| e.suspend_copy(m).map(|_| ()))
    }

    /// Resumes the suspended copies of the members (independent groups).
    pub fn group_resume(&mut self, name: &str) -> Result<GroupStatus> {
        self.each_copying_member(name, "resumed", |e, m| e.resume_copy(m).map(|_| ()))
    }

    /// Runs `f` on every member with a copy; refused for a dependent group and when no
    /// member copies. Stops at the first failure (members before it stay changed, as
    /// each is a set's own request).
    fn each_copying_member(
        &mut self,
        name: &str,
        what: &str,
        f: impl Fn(&mut Engine, &str) -> Result<()>,
    ) -> Result<GroupStatus> {
        let recs = self.group_members(name)?;
        if recs.iter().any(|r| r.kind == SetKind::Dependent) {
            return Err(EngineError::NotSupported(format!(
                "group {name} holds dependent sets: their copies are merges the kernel runs \
                 at once and cannot be {what}"
            )));
        }
        let copying: Vec<_> = recs
            .iter()
            .filter(|r| matches!(r.op, SetOp::Copying { .. }))
            .map(|r| r.name.clone())
            .collect();
        if copying.is_empty() {
            return Err(EngineError::InvalidState(format!(
                "no set of group {name} is copying"
            )));
        }
        for m in &copying {
            f(self, m)?;
        }
        self.group_status(name)
    }

    /// Throttles (or, with `None`, unthrottles) the copies of every member.
    pub fn group_copy_params(
        &mut self,
        name: &str,
        params: Option<CopyParams>,
    ) -> Result<GroupStatus> {
        let recs = self.group_members(name)?;
        if let Some(d) = recs.iter().find(|r| r.kind == SetKind::Dependent) {
            return Err(EngineError::NotSupported(format!(
                "group {name} holds dependent sets ({}): they have no background copy to \
                 throttle",
                d.name
            )));
        }
        for r in &recs {
            self.set_copy_params(&r.name, params)?;
        }
        self.group_status(name)
    }

    /// Waits until no member has an operation running (stopped copies count as over),
    /// or `timeout` passes.
    pub fn group_wait(&mut self, name: &str, timeout: Option<Duration>) -> Result<GroupStatus> {
        let start = Instant::now();
        for m in self.group_record(name)?.members.clone() {
            // Each member is advanced at least once, also when the time is up.
            let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
            self.wait(&m, left).map_err(|e| match e {
                EngineError::Timeout(_) => EngineError::Timeout(format!(
                    "group {name} is still busy after {} ms (set {m})",
                    timeout.unwrap_or_default().as_millis()
                )),
                e => e,
            })?;
        }
        self.group_status(name)
    }
}
