//! The pull operations (DSP0200 5.3.2.19–29): OpenEnumerateInstances,
//! OpenEnumerateInstancePaths, OpenAssociatorInstances(Paths),
//! OpenReferenceInstances(Paths), PullInstancesWithPath, PullInstancePaths,
//! CloseEnumeration; and the store of enumeration contexts behind them.
//!
//! The whole result is computed when the enumeration is opened (providers
//! return lists anyway) and handed out in pieces. Contexts are bounded in
//! number, belong to the user and namespace that opened them, expire
//! `OperationTimeout` after the last open or pull, and vanish at the end of
//! the sequence; an unknown, expired or closed context is
//! CIM_ERR_INVALID_ENUMERATION_CONTEXT. Filter queries and
//! continue-on-error are not supported.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cim::{
    CimError, CimStatus, CimType, IMethodResult, IReturnValue, Instance, ObjectPath, ParamValue,
    Value,
};

use super::assoc::AssocFilter;
use super::filter::Shape;
use super::instances::Args;
use super::params::{invalid, Params};
use super::Cimom;

/// Limits on enumeration contexts.
#[derive(Debug, Clone)]
pub struct PullLimits {
    /// Open contexts at most; opening one more is CIM_ERR_SERVER_LIMITS_EXCEEDED.
    pub max_contexts: usize,
    /// Lifetime between operations when the client gives no OperationTimeout.
    pub default_timeout: Duration,
    /// Largest OperationTimeout accepted (CIM_ERR_INVALID_OPERATION_TIMEOUT above).
    pub max_timeout: Duration,
    /// Most objects in one response, whatever MaxObjectCount asks.
    pub max_objects_per_response: u32,
    /// Consecutive pulls with MaxObjectCount 0 tolerated on one context
    /// (DSP0200 lets servers stop clients that never make progress).
    pub max_zero_pulls: u32,
}

impl Default for PullLimits {
    fn default() -> Self {
        PullLimits {
            max_contexts: 64,
            default_timeout: Duration::from_secs(60),
            max_timeout: Duration::from_secs(600),
            max_objects_per_response: 10_000,
            max_zero_pulls: 1_000,
        }
    }
}

/// What a context hands out.
#[derive(Debug)]
enum Items {
    Instances(VecDeque<(ObjectPath, Instance)>),
    Paths(VecDeque<ObjectPath>),
}

impl Items {
    fn is_empty(&self) -> bool {
        match self {
            Items::Instances(v) => v.is_empty(),
            Items::Paths(v) => v.is_empty(),
        }
    }

    /// Takes up to `n` items as the IRETURNVALUE of a response.
    fn take(&mut self, n: u32) -> IReturnValue {
        let n = n as usize;
        match self {
            Items::Instances(v) => {
                let k = n.min(v.len());
                IReturnValue::InstancesWithPath(v.drain(..k).collect())
            }
            Items::Paths(v) => {
                let k = n.min(v.len());
                IReturnValue::InstancePaths(v.drain(..k).collect())
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Items::Instances(_) => "instances",
            Items::Paths(_) => "instance paths",
        }
    }
}

#[derive(Debug)]
struct Context {
    namespace: String,
    user: String,
    items: Items,
    timeout: Duration,
    expires: Instant,
    zero_pulls: u32,
}

#[derive(Debug)]
struct Inner {
    contexts: HashMap<String, Context>,
    opened: u64,
}

/// The open enumeration contexts.
#[derive(Debug)]
pub(super) struct PullStore {
    limits: PullLimits,
    ids: RandomState,
    inner: Mutex<Inner>,
}

fn invalid_context(id: &str) -> CimError {
    CimError::new(
        CimStatus::InvalidEnumerationContext,
        format!("enumeration context {id:?} is unknown, expired or closed"),
    )
}

/// The IRETURNVALUE and the EndOfSequence/EnumerationContext output
/// parameters pywbem reads (`_get_rslt_params`): EnumerationContext is
/// NULL once the sequence has ended.
fn response(value: IReturnValue, context: Option<&str>) -> IMethodResult {
    let eos = Value::from(context.is_none());
    let ctx = context.map(Value::string);
    IMethodResult {
        value,
        out_params: vec![
            ParamValue::new("EndOfSequence", CimType::Boolean, Some(&eos)),
            ParamValue::new("EnumerationContext", CimType::String, ctx.as_ref()),
        ],
    }
}

impl PullStore {
    pub fn new(limits: PullLimits) -> Self {
        PullStore {
            limits,
            ids: RandomState::new(),
            inner: Mutex::new(Inner {
                contexts: HashMap::new(),
                opened: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code that can panic runs under the lock, but a poisoned store
        // must not take every later pull down with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands out the first `max` items and keeps the rest in a new context.
    fn open(
        &self,
        ns: &str,
        user: &str,
        mut items: Items,
        timeout: Duration,
        max: u32,
        now: Instant,
    ) -> Result<IMethodResult, CimError> {
        let first = items.take(max.min(self.limits.max_objects_per_response));
        if items.is_empty() {
            return Ok(response(first, None));
        }
        let mut inner = self.lock();
        inner.contexts.retain(|_, c| c.expires > now);
        if inner.contexts.len() >= self.limits.max_contexts {
            return Err(CimError::new(
                CimStatus::ServerLimitsExceeded,
                format!(
                    "{} enumeration contexts are open; close some or let them expire",
                    inner.contexts.len()
                ),
            ));
        }
        inner.opened += 1;
        // Counter for uniqueness, keyed hash so that ids are not guessable.
        let id = format!(
            "{}-{:016x}",
            inner.opened,
            self.ids.hash_one((inner.opened, user, ns))
        );
        inner.contexts.insert(
            id.clone(),
            Context {
                namespace: ns.to_string(),
                user: user.to_string(),
                items,
                timeout,
                expires: now + timeout,
                zero_pulls: 0,
            },
        );
        Ok(response(first, Some(&id)))
    }

    fn pull(
        &self,
        ns: &str,
        user: &str,
        id: &str,
        want_paths: bool,
        max: u32,
        now: Instant,
    ) -> Result<IMethodResult, CimError> {
        let mut inner = self.lock();
        let c = match inner.contexts.get_mut(id) {
            Some(c) if c.expires <= now => {
                inner.contexts.remove(id);
                return Err(invalid_context(id));
            }
            Some(c) if c.namespace != ns || c.user != user => return Err(invalid_context(id)),
            Some(c) => c,
            None => return Err(invalid_context(id)),
        };
        if want_paths != matches!(c.items, Items::Paths(_)) {
            return Err(CimError::new(
                CimStatus::InvalidEnumerationContext,
                format!(
                    "enumeration context {id:?} was opened for {}",
                    c.items.kind()
                ),
            ));
        }
        if max == 0 {
            c.zero_pulls += 1;
            if c.zero_pulls > self.limits.max_zero_pulls {
                inner.contexts.remove(id);
                return Err(CimError::new(
                    CimStatus::ServerLimitsExceeded,
                    "too many pulls with MaxObjectCount 0; the enumeration is closed",
                ));
            }
        } else {
            c.zero_pulls = 0;
        }
        let value = c.items.take(max.min(self.limits.max_objects_per_response));
        if c.items.is_empty() {
            inner.contexts.remove(id);
            return Ok(response(value, None));
        }
        c.expires = now + c.timeout;
        Ok(response(value, Some(id)))
    }

    fn close(&self, ns: &str, user: &str, id: &str, now: Instant) -> Result<(), CimError> {
        let mut inner = self.lock();
        match inner.contexts.get(id) {
            Some(c) if c.namespace == ns && c.user == user => {
                let live = c.expires > now;
                inner.contexts.remove(id);
                if live {
                    Ok(())
                } else {
                    Err(invalid_context(id))
                }
            }
            _ => Err(invalid_context(id)),
        }
    }

    #[cfg(test)]
    pub fn open_count(&self) -> usize {
        self.lock().contexts.len()
    }
}

/// The parameters all Open operations share, checked.
struct OpenCommon {
    timeout: Duration,
    max: u32,
}

const OPEN_COMMON: [&str; 5] = [
    "FilterQueryLanguage",
    "FilterQuery",
    "OperationTimeout",
    "ContinueOnError",
    "MaxObjectCount",
];

fn accepted(specific: &[&'static str]) -> Vec<&'static str> {
    specific.iter().copied().chain(OPEN_COMMON).collect()
}

impl Cimom {
    fn open_common(&self, p: &Params) -> Result<OpenCommon, CimError> {
        if p.string("FilterQueryLanguage")?.is_some() || p.string("FilterQuery")?.is_some() {
            return Err(CimError::new(
                CimStatus::FilteredEnumerationNotSupported,
                "filter queries are not supported",
            ));
        }
        if p.bool("ContinueOnError", false)? {
            return Err(CimError::new(
                CimStatus::ContinuationOnErrorNotSupported,
                "ContinueOnError is not supported",
            ));
        }
        let limits = &self.pulls.limits;
        let timeout = match p.u32("OperationTimeout")? {
            None => limits.default_timeout,
            Some(0) => {
                return Err(CimError::new(
                    CimStatus::InvalidOperationTimeout,
                    "OperationTimeout 0 (never expire) is not supported",
                ))
            }
            Some(s) if Duration::from_secs(s.into()) > limits.max_timeout => {
                return Err(CimError::new(
                    CimStatus::InvalidOperationTimeout,
                    format!(
                        "OperationTimeout {s} exceeds the maximum of {} seconds",
                        limits.max_timeout.as_secs()
                    ),
                ))
            }
            Some(s) => Duration::from_secs(s.into()),
        };
        Ok(OpenCommon {
            timeout,
            max: p.u32("MaxObjectCount")?.unwrap_or(0),
        })
    }

    fn open_with(
        &self,
        ns: &str,
        user: &str,
        common: OpenCommon,
        items: Items,
    ) -> Result<IMethodResult, CimError> {
        self.pulls
            .open(ns, user, items, common.timeout, common.max, Instant::now())
    }

    pub(super) fn open_enumerate_instances(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "OpenEnumerateInstances",
            args,
            &accepted(&[
                "ClassName",
                "DeepInheritance",
                "IncludeClassOrigin",
                "PropertyList",
            ]),
        )?;
        let common = self.open_common(&p)?;
        let deep = p.bool("DeepInheritance", true)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let property_list = p.property_list()?;
        let class = self.class(ns, &p.required_class_name("ClassName")?)?;
        let shape = Shape {
            property_list: property_list.as_deref(),
            only_of_class: (!deep).then_some(class),
            include_qualifiers: false,
            include_class_origin,
        };
        let found = self.shaped(&shape, self.collect(user, ns, &class.name)?);
        self.open_with(ns, user, common, Items::Instances(found.into()))
    }

    pub(super) fn open_enumerate_instance_paths(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(
            "OpenEnumerateInstancePaths",
            args,
            &accepted(&["ClassName"]),
        )?;
        let common = self.open_common(&p)?;
        let class = self.class(ns, &p.required_class_name("ClassName")?)?;
        let found = self.collect(user, ns, &class.name)?;
        let paths = found.into_iter().map(|(p, _)| p).collect();
        self.open_with(ns, user, common, Items::Paths(paths))
    }

    /// OpenAssociatorInstances(Paths) and OpenReferenceInstances(Paths).
    fn open_assoc(
        &self,
        ns: &str,
        user: &str,
        args: Args,
        op: &str,
        associators: bool,
        paths: bool,
    ) -> Result<IMethodResult, CimError> {
        let mut specific = vec!["InstanceName", "ResultClass", "Role"];
        if associators {
            specific.extend(["AssocClass", "ResultRole"]);
        }
        if !paths {
            specific.extend(["IncludeClassOrigin", "PropertyList"]);
        }
        let p = Params::new(op, args, &accepted(&specific))?;
        let common = self.open_common(&p)?;
        let f = AssocFilter::from_params(&p)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let property_list = p.property_list()?;
        let target = self.assoc_target(ns, &p.required_instance_name("InstanceName")?)?;
        let items = match (associators, paths) {
            (true, true) => Items::Paths(self.associator_paths(user, &target, &f)?.into()),
            (false, true) => Items::Paths(
                self.references_of(user, &target, &f)?
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect(),
            ),
            (_, false) => {
                let found = if associators {
                    self.associator_instances(user, &target, &f)?
                } else {
                    self.references_of(user, &target, &f)?
                };
                let shape = Shape {
                    property_list: property_list.as_deref(),
                    only_of_class: None,
                    include_qualifiers: false,
                    include_class_origin,
                };
                Items::Instances(self.shaped(&shape, found).into())
            }
        };
        self.open_with(ns, user, common, items)
    }

    pub(super) fn open_associator_instances(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.open_assoc(ns, user, args, "OpenAssociatorInstances", true, false)
    }

    pub(super) fn open_associator_instance_paths(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.open_assoc(ns, user, args, "OpenAssociatorInstancePaths", true, true)
    }

    pub(super) fn open_reference_instances(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.open_assoc(ns, user, args, "OpenReferenceInstances", false, false)
    }

    pub(super) fn open_reference_instance_paths(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.open_assoc(ns, user, args, "OpenReferenceInstancePaths", false, true)
    }

    fn context_param(p: &Params) -> Result<String, CimError> {
        p.string("EnumerationContext")?
            .ok_or_else(|| invalid("parameter EnumerationContext is required"))
    }

    fn pull_with(
        &self,
        ns: &str,
        user: &str,
        args: Args,
        op: &str,
        paths: bool,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new(op, args, &["EnumerationContext", "MaxObjectCount"])?;
        let id = Self::context_param(&p)?;
        let max = p
            .u32("MaxObjectCount")?
            .ok_or_else(|| invalid("parameter MaxObjectCount is required"))?;
        self.pulls.pull(ns, user, &id, paths, max, Instant::now())
    }

    pub(super) fn pull_instances_with_path(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.pull_with(ns, user, args, "PullInstancesWithPath", false)
    }

    pub(super) fn pull_instance_paths(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        self.pull_with(ns, user, args, "PullInstancePaths", true)
    }

    pub(super) fn close_enumeration(
        &self,
        ns: &str,
        user: &str,
        args: Args,
    ) -> Result<IMethodResult, CimError> {
        let p = Params::new("CloseEnumeration", args, &["EnumerationContext"])?;
        let id = Self::context_param(&p)?;
        self.pulls.close(ns, user, &id, Instant::now())?;
        Ok(IMethodResult {
            value: IReturnValue::None,
            out_params: Vec::new(),
        })
    }

    #[cfg(test)]
    pub(super) fn open_contexts(&self) -> usize {
        self.pulls.open_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(n: usize) -> Items {
        Items::Paths((0..n).map(|i| ObjectPath::new(format!("C{i}"))).collect())
    }

    fn eos(r: &IMethodResult) -> (bool, Option<String>) {
        let v = |n: &str| {
            r.out_params
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.data.clone())
                .unwrap()
        };
        let e = v("EndOfSequence").as_bool("e").unwrap().unwrap();
        let c = v("EnumerationContext").as_string("c").unwrap();
        (e, c)
    }

    fn count(r: &IMethodResult) -> usize {
        match &r.value {
            IReturnValue::InstancePaths(v) => v.len(),
            IReturnValue::InstancesWithPath(v) => v.len(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn contexts_expire_after_their_timeout_renewed_by_each_pull() {
        let s = PullStore::new(PullLimits::default());
        let t0 = Instant::now();
        let t = Duration::from_secs(10);
        let r = s.open("ns", "u", paths(5), t, 1, t0).unwrap();
        let (e, id) = eos(&r);
        assert!(!e);
        let id = id.unwrap();
        // Renewed at t0+9, so still alive at t0+18.
        let r = s
            .pull("ns", "u", &id, true, 1, t0 + Duration::from_secs(9))
            .unwrap();
        assert_eq!(count(&r), 1);
        s.pull("ns", "u", &id, true, 1, t0 + Duration::from_secs(18))
            .unwrap();
        let e = s
            .pull("ns", "u", &id, true, 1, t0 + Duration::from_secs(29))
            .unwrap_err();
        assert_eq!(e.status, CimStatus::InvalidEnumerationContext);
        assert_eq!(s.open_count(), 0);
    }

    #[test]
    fn context_limit_counts_only_live_contexts() {
        let limits = PullLimits {
            max_contexts: 2,
            ..Default::default()
        };
        let s = PullStore::new(limits);
        let t0 = Instant::now();
        let t = Duration::from_secs(5);
        s.open("ns", "u", paths(2), t, 0, t0).unwrap();
        s.open("ns", "u", paths(2), t, 0, t0).unwrap();
        let e = s.open("ns", "u", paths(2), t, 0, t0).unwrap_err();
        assert_eq!(e.status, CimStatus::ServerLimitsExceeded);
        // A complete result needs no context.
        s.open("ns", "u", paths(2), t, 2, t0).unwrap();
        // Once the first two expired, there is room again.
        s.open("ns", "u", paths(2), t, 0, t0 + Duration::from_secs(6))
            .unwrap();
        assert_eq!(s.open_count(), 1);
    }

    #[test]
    fn contexts_belong_to_their_user_namespace_and_kind() {
        let s = PullStore::new(PullLimits::default());
        let t0 = Instant::now();
        let t = Duration::from_secs(5);
        let id = eos(&s.open("ns", "u", paths(3), t, 0, t0).unwrap())
            .1
            .unwrap();
        for (ns, user, want_paths) in [
            ("ns", "other", true),
            ("other", "u", true),
            ("ns", "u", false),
        ] {
            let e = s.pull(ns, user, &id, want_paths, 1, t0).unwrap_err();
            assert_eq!(e.status, CimStatus::InvalidEnumerationContext);
        }
        assert!(s.close("ns", "other", &id, t0).is_err());
        s.close("ns", "u", &id, t0).unwrap();
        assert!(s.close("ns", "u", &id, t0).is_err());
    }

    #[test]
    fn zero_pulls_are_bounded() {
        let limits = PullLimits {
            max_zero_pulls: 2,
            ..Default::default()
        };
        let s = PullStore::new(limits);
        let t0 = Instant::now();
        let id = eos(&s
            .open("ns", "u", paths(1), Duration::from_secs(5), 0, t0)
            .unwrap())
        .1
        .unwrap();
        for _ in 0..2 {
            let r = s.pull("ns", "u", &id, true, 0, t0).unwrap();
            assert_eq!(count(&r), 0);
            assert!(!eos(&r).0);
        }
        let e = s.pull("ns", "u", &id, true, 0, t0).unwrap_err();
        assert_eq!(e.status, CimStatus::ServerLimitsExceeded);
        assert_eq!(s.open_count(), 0);
    }
}
