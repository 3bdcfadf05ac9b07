//! The commands of `iiadm`, each carried out with the CIM operations of [`Ops`] on the
//! agent's classes (DS_IIService, DS_IISet, DS_IIGroup, DS_StorageVolume) and printed
//! by [`render`]. A method's non-zero return code is an error named from the MOF.

use std::io::Write;

use serde_json::{json, Value as Json};

use crate::cim::{Instance, MethodTarget, ObjectPath, ParamValue};
use crate::providers::{group, service, set, volume};

use super::cli::{Command, Direction, EnableArgs, GroupCommand, SetType, Throttle};
use super::confirm::{confirm_overwrite, Terminal};
use super::error::ClientError;
use super::ops::{param, Exchange, MethodReturn, Ops};
use super::{paths, render, valuemap};

/// What a method is about: the object a refusal names and whose status explains it.
#[derive(Debug, Clone)]
enum Subject {
    Set(String),
    Group(String),
    /// A set as a member of a group (AddSet, RemoveSet).
    Member {
        group: String,
        set: String,
    },
    Volume {
        path: ObjectPath,
        name: String,
    },
}

impl Subject {
    fn describe(&self) -> String {
        match self {
            Subject::Set(n) => format!("set {n}"),
            Subject::Group(g) => format!("group {g}"),
            Subject::Member { group, set } => format!("group {group}, set {set}"),
            Subject::Volume { name, .. } => format!("volume {name}"),
        }
    }

    /// The instance its methods are invoked on, and its class.
    fn target(&self) -> (MethodTarget, &'static str) {
        match self {
            Subject::Set(n) => (MethodTarget::Instance(paths::set(n)), set::CLASS),
            Subject::Group(g) | Subject::Member { group: g, .. } => {
                (MethodTarget::Instance(paths::group(g)), group::CLASS)
            }
            Subject::Volume { path, .. } => (MethodTarget::Instance(path.clone()), volume::CLASS),
        }
    }
}

fn service() -> (MethodTarget, &'static str) {
    (paths::service(), service::CLASS)
}

fn by_name(mut list: Vec<Instance>) -> Vec<Instance> {
    list.sort_by(|a, b| render::name(a).cmp(render::name(b)));
    list
}

/// What a successful method did, for the report.
struct Done {
    method: &'static str,
    target: MethodTarget,
    class: &'static str,
    returned: MethodReturn,
    /// A sentence for people, if the objects' status does not say it all.
    message: Option<String>,
    /// The objects affected, as they are now: (JSON key, instances).
    objects: (&'static str, Vec<Instance>),
}

/// One run of `iiadm` against an agent.
pub struct Session<'a, E> {
    pub ops: &'a Ops<E>,
    pub out: &'a mut dyn Write,
    pub terminal: &'a mut dyn Terminal,
    /// `--json`
    pub json: bool,
    /// `-n` / `--yes`
    pub yes: bool,
}

impl<E> std::fmt::Debug for Session<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("json", &self.json)
            .field("yes", &self.yes)
            .finish_non_exhaustive()
    }
}

impl<E: Exchange> Session<'_, E> {
    pub fn run(&mut self, command: &Command) -> Result<(), ClientError> {
        use Command as C;
        let set = |n: &String| Subject::Set(n.clone());
        match command {
            C::Enable(a) => self.enable(a),
            C::Disable { set } => self.disable(set),
            C::Update { direction, set: s } => self.transfer(set(s), "Update", *direction),
            C::Copy { direction, set: s } => self.transfer(set(s), "Copy", *direction),
            C::Wait { set: s, timeout } => self.wait(set(s), *timeout),
            C::Abort { set: s } => self.copy_control(set(s), "Abort"),
            C::Suspend { set: s } => self.copy_control(set(s), "Suspend"),
            C::Resume { set: s } => self.copy_control(set(s), "Resume"),
            C::CopyParams { set: s, throttle } => self.throttle(set(s), throttle.throttle()),
            C::Status { set } => self.status(set.as_deref()),
            C::List => self.list(),
            C::Group(g) => self.group(g),
            C::Volumes => self.volumes(),
            C::Control { path } => self.volume_method(path, "PutUnderControl"),
            C::Release { path } => self.volume_method(path, "Release"),
        }
    }

    fn group(&mut self, command: &GroupCommand) -> Result<(), ClientError> {
        use GroupCommand as G;
        let grp = |g: &String| Subject::Group(g.clone());
        match command {
            G::Create { group } => self.group_lifecycle(group, "CreateIIGroup"),
            G::Delete { group } => self.group_lifecycle(group, "DeleteIIGroup"),
            G::Add { group, set } => self.membership(group, set, "AddSet"),
            G::Remove { group, set } => self.membership(group, set, "RemoveSet"),
            G::Update { direction, group } => self.transfer(grp(group), "Update", *direction),
            G::Copy { direction, group } => self.transfer(grp(group), "Copy", *direction),
            G::Wait { group, timeout } => self.wait(grp(group), *timeout),
            G::Abort { group } => self.copy_control(grp(group), "Abort"),
            G::Suspend { group } => self.copy_control(grp(group), "Suspend"),
            G::Resume { group } => self.copy_control(grp(group), "Resume"),
            G::CopyParams { group, throttle } => self.throttle(grp(group), throttle.throttle()),
            G::Status { group } => self.group_status(group.as_deref()),
            G::List => self.group_list(),
        }
    }

    // ---- output -------------------------------------------------------------

    fn print(&mut self, text: &str) {
        // A closed standard output (`iiadm list | head`) is not the agent's failure.
        let _ = self.out.write_all(text.as_bytes());
    }

    fn print_json(&mut self, value: Json) {
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        self.print(&format!("{text}\n"));
    }

    fn report(&mut self, done: Done) {
        let (key, objects) = done.objects;
        if self.json {
            let code = done.returned.code.unwrap_or(0);
            let mut v = json!({
                "method": done.method,
                "target": paths::target_text(&done.target),
                "return_value": code,
                "return_name": valuemap::return_value(done.class, done.method, code),
            });
            v[key] = render::instances_json(&objects);
            self.print_json(v);
            return;
        }
        if let Some(m) = done.message {
            self.print(&m);
        }
        if key == "sets" {
            for s in &objects {
                self.print(&render::set_summary(s));
            }
        }
    }

    // ---- reading ------------------------------------------------------------

    fn get_set(&self, name: &str) -> Result<Instance, ClientError> {
        self.ops
            .get_instance(&paths::set(name))
            .map_err(|e| e.about(format!("set {name}")))
    }

    fn get_group(&self, name: &str) -> Result<Instance, ClientError> {
        self.ops
            .get_instance(&paths::group(name))
            .map_err(|e| e.about(format!("group {name}")))
    }

    fn all(&self, class: &str) -> Result<Vec<Instance>, ClientError> {
        let found = self
            .ops
            .enumerate_instances(class)
            .map_err(|e| e.about(format!("enumerating {class}")))?;
        Ok(by_name(found.into_iter().map(|(_, i)| i).collect()))
    }

    /// The sets of a group, in the group's order.
    fn members_of(&self, group: &Instance, sets: &[Instance]) -> Vec<Instance> {
        render::string_array(group, "Members")
            .iter()
            .filter_map(|m| sets.iter().find(|s| render::name(s) == m).cloned())
            .collect()
    }

    /// The objects a method on `subject` changed, as they are now.
    fn affected(&self, subject: &Subject) -> Result<Vec<Instance>, ClientError> {
        match subject {
            Subject::Set(n) => Ok(vec![self.get_set(n)?]),
            Subject::Group(g) | Subject::Member { group: g, .. } => {
                let group = self.get_group(g)?;
                Ok(self.members_of(&group, &self.all(set::CLASS)?))
            }
            Subject::Volume { path, .. } => Ok(vec![self.ops.get_instance(path)?]),
        }
    }

    /// What the agent says of the subject now, to explain a refusal.
    fn detail(&self, subject: &Subject) -> Option<String> {
        match subject {
            Subject::Set(n) | Subject::Member { set: n, .. } => {
                render::status_text(&self.get_set(n).ok()?)
            }
            Subject::Group(g) => {
                let group = self.get_group(g).ok()?;
                let busy = render::string_array(&group, "BusyMembers");
                if !busy.is_empty() {
                    Some(format!("busy sets: {}", busy.join(", ")))
                } else if render::string_array(&group, "Members").is_empty() {
                    Some("the group has no sets".into())
                } else {
                    None
                }
            }
            Subject::Volume { .. } => None,
        }
    }

    // ---- methods ------------------------------------------------------------

    /// Invokes a method; a return code other than 0 is an error naming the code as the
    /// method's ValueMap does, with the subject's status.
    fn invoke(
        &self,
        (target, class): (MethodTarget, &'static str),
        method: &'static str,
        params: Vec<ParamValue>,
        about: &Subject,
    ) -> Result<Done, ClientError> {
        let returned = self
            .ops
            .invoke_method(&target, method, params)
            .map_err(|e| e.about(about.describe()))?;
        match returned.code {
            None | Some(0) => Ok(Done {
                method,
                target,
                class,
                returned,
                message: None,
                objects: ("sets", Vec::new()),
            }),
            Some(code) => Err(ClientError::Returned {
                context: about.describe(),
                method: method.into(),
                code,
                name: valuemap::return_value(class, method, code)
                    .unwrap_or_else(|| "(no name in the MOF)".into()),
                detail: self.detail(about),
            }),
        }
    }

    fn enable(&mut self, a: &EnableArgs) -> Result<(), ClientError> {
        let name = a.set_name();
        let mut params = vec![
            param("Name", name),
            param("Type", a.kind.code()),
            param("MasterVolume", a.master.as_str()),
            param("ShadowVolume", a.shadow.as_str()),
            param("BitmapVolume", a.bitmap.as_str()),
            param("Compact", a.compact),
        ];
        if let Some(k) = a.chunk_kib {
            // The agent checks the size (a power of two from 4 to 512 KiB).
            let bytes = k
                .checked_mul(1024)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| ClientError::Usage(format!("--chunk-kib {k} is too large")))?;
            params.push(param("ChunkSize", bytes));
        }
        let subject = Subject::Set(name.to_string());
        let mut done = self.invoke(service(), "CreateIISet", params, &subject)?;
        let kind = valuemap::property_text(set::CLASS, "Type", a.kind.code().into());
        let mut message = format!(
            "set {name} enabled ({kind}): master {}, shadow {}, bitmap {}\n",
            a.master, a.shadow, a.bitmap
        );
        if a.kind == SetType::Independent {
            message.push_str(&format!(
                "the shadow is copied in the background: `iiadm wait {name}` waits for it\n"
            ));
        }
        done.message = Some(message);
        done.objects = ("sets", self.affected(&subject)?);
        self.report(done);
        Ok(())
    }

    fn disable(&mut self, name: &str) -> Result<(), ClientError> {
        let subject = Subject::Set(name.to_string());
        let mut done = self.invoke(
            service(),
            "DeleteIISet",
            vec![param("Name", name)],
            &subject,
        )?;
        done.message = Some(format!(
            "set {name} disabled; the shadow keeps its contents\n"
        ));
        self.report(done);
        Ok(())
    }

    /// The question before a copy or update overwrites masters.
    fn overwrite_question(&self, subject: &Subject) -> Result<String, ClientError> {
        let volume = |s: &Instance, p: &str| render::text_of(s, p).to_string();
        Ok(match subject {
            Subject::Set(n) => {
                let s = self.get_set(n)?;
                format!(
                    "Overwrite the master volume {} of set {n} with the shadow {}?",
                    volume(&s, "MasterVolume"),
                    volume(&s, "ShadowVolume")
                )
            }
            Subject::Group(g) | Subject::Member { group: g, .. } => {
                let sets = self.affected(&Subject::Group(g.clone()))?;
                let list: Vec<String> = sets
                    .iter()
                    .map(|s| {
                        format!(
                            "{} of set {} with {}",
                            volume(s, "MasterVolume"),
                            render::name(s),
                            volume(s, "ShadowVolume")
                        )
                    })
                    .collect();
                format!(
                    "Overwrite the master volumes of group {g} with their shadows ({})?",
                    if list.is_empty() {
                        "no sets".to_string()
                    } else {
                        list.join(", ")
                    }
                )
            }
            Subject::Volume { .. } => unreachable!("volumes are not copied"),
        })
    }

    fn transfer(
        &mut self,
        subject: Subject,
        method: &'static str,
        direction: Direction,
    ) -> Result<(), ClientError> {
        if direction == Direction::ToMaster {
            let question = self.overwrite_question(&subject)?;
            confirm_overwrite(&question, self.yes, self.terminal)?;
        }
        let params = vec![param("Direction", direction.code())];
        let mut done = self.invoke(subject.target(), method, params, &subject)?;
        done.objects = ("sets", self.affected(&subject)?);
        self.report(done);
        Ok(())
    }

    fn wait(&mut self, subject: Subject, timeout: Option<u32>) -> Result<(), ClientError> {
        let params = vec![param("Timeout", timeout.unwrap_or(0))];
        let mut done = self.invoke(subject.target(), "Wait", params, &subject)?;
        done.objects = ("sets", self.affected(&subject)?);
        self.report(done);
        Ok(())
    }

    fn copy_control(&mut self, subject: Subject, method: &'static str) -> Result<(), ClientError> {
        let mut done = self.invoke(subject.target(), method, Vec::new(), &subject)?;
        done.objects = ("sets", self.affected(&subject)?);
        self.report(done);
        Ok(())
    }

    fn throttle(&mut self, subject: Subject, throttle: Throttle) -> Result<(), ClientError> {
        let (method, params, what) = match throttle {
            Throttle::Batches { units, delay_ms } => (
                "SetCopyParameters",
                vec![param("Units", units), param("Delay", delay_ms)],
                format!("{units} chunks per batch, {delay_ms} ms after each batch"),
            ),
            Throttle::Off => ("ClearCopyParameters", Vec::new(), "full speed".into()),
        };
        let mut done = self.invoke(subject.target(), method, params, &subject)?;
        done.message = Some(format!("{}: copies at {what}\n", subject.describe()));
        done.objects = ("sets", self.affected(&subject)?);
        self.report(done);
        Ok(())
    }

    fn status(&mut self, name: Option<&str>) -> Result<(), ClientError> {
        let sets = match name {
            Some(n) => vec![self.get_set(n)?],
            None => self.all(set::CLASS)?,
        };
        if self.json {
            self.print_json(json!({ "sets": render::instances_json(&sets) }));
        } else if sets.is_empty() {
            self.print("no sets\n");
        } else {
            let blocks: Vec<String> = sets.iter().map(render::set_block).collect();
            self.print(&blocks.join("\n"));
        }
        Ok(())
    }

    fn list(&mut self) -> Result<(), ClientError> {
        let sets = self.all(set::CLASS)?;
        if self.json {
            self.print_json(json!({ "sets": render::instances_json(&sets) }));
        } else if sets.is_empty() {
            self.print("no sets\n");
        } else {
            self.print(&render::set_list(&sets));
        }
        Ok(())
    }

    // ---- groups -------------------------------------------------------------

    fn group_lifecycle(&mut self, name: &str, method: &'static str) -> Result<(), ClientError> {
        let subject = Subject::Group(name.to_string());
        let mut done = self.invoke(service(), method, vec![param("Name", name)], &subject)?;
        done.message = Some(if method == "CreateIIGroup" {
            done.objects = ("groups", vec![self.get_group(name)?]);
            format!("group {name} created\n")
        } else {
            done.objects = ("groups", Vec::new());
            format!("group {name} deleted; its sets stay, ungrouped\n")
        });
        self.report(done);
        Ok(())
    }

    fn membership(
        &mut self,
        group: &str,
        set: &str,
        method: &'static str,
    ) -> Result<(), ClientError> {
        let subject = Subject::Member {
            group: group.into(),
            set: set.into(),
        };
        let mut done = self.invoke(
            subject.target(),
            method,
            vec![param("SetName", set)],
            &subject,
        )?;
        done.message = Some(if method == "AddSet" {
            format!("set {set} added to group {group}\n")
        } else {
            format!("set {set} removed from group {group}\n")
        });
        done.objects = ("groups", vec![self.get_group(group)?]);
        self.report(done);
        Ok(())
    }

    fn group_status(&mut self, name: Option<&str>) -> Result<(), ClientError> {
        let groups = match name {
            Some(g) => vec![self.get_group(g)?],
            None => self.all(group::CLASS)?,
        };
        let sets = self.all(set::CLASS)?;
        let members: Vec<Vec<Instance>> =
            groups.iter().map(|g| self.members_of(g, &sets)).collect();
        if self.json {
            let all: Vec<Instance> = members.concat();
            self.print_json(json!({
                "groups": render::instances_json(&groups),
                "sets": render::instances_json(&all),
            }));
        } else if groups.is_empty() {
            self.print("no groups\n");
        } else {
            let blocks: Vec<String> = groups
                .iter()
                .zip(&members)
                .map(|(g, m)| render::group_block(g, m))
                .collect();
            self.print(&blocks.join("\n"));
        }
        Ok(())
    }

    fn group_list(&mut self) -> Result<(), ClientError> {
        let groups = self.all(group::CLASS)?;
        if self.json {
            self.print_json(json!({ "groups": render::instances_json(&groups) }));
        } else if groups.is_empty() {
            self.print("no groups\n");
        } else {
            self.print(&render::group_list(&groups));
        }
        Ok(())
    }

    // ---- volumes ------------------------------------------------------------

    fn volumes(&mut self) -> Result<(), ClientError> {
        let mut volumes = self.all(volume::CLASS)?;
        volumes.sort_by(|a, b| render::text_of(a, "Path").cmp(render::text_of(b, "Path")));
        if self.json {
            self.print_json(json!({ "volumes": render::instances_json(&volumes) }));
        } else {
            self.print(&render::volume_table(&volumes));
        }
        Ok(())
    }

    /// A volume of the agent by device path (`/dev/vdb`) or name (`vdb`).
    fn find_volume(&self, wanted: &str) -> Result<Subject, ClientError> {
        let found = self
            .ops
            .enumerate_instances(volume::CLASS)
            .map_err(|e| e.about(format!("enumerating {}", volume::CLASS)))?;
        let matches = |i: &Instance| {
            let path = render::text_of(i, "Path");
            let id = render::text_of(i, "DeviceID");
            path == wanted || id == wanted || path == format!("/dev/{wanted}")
        };
        found
            .into_iter()
            .find(|(_, i)| matches(i))
            .map(|(path, i)| Subject::Volume {
                path: path.with_namespace(crate::providers::NAMESPACE),
                name: render::text_of(&i, "Path").to_string(),
            })
            .ok_or_else(|| {
                ClientError::NotFound(format!(
                    "volume {wanted}: not among the agent's volumes (see `iiadm volumes`)"
                ))
            })
    }

    fn volume_method(&mut self, wanted: &str, method: &'static str) -> Result<(), ClientError> {
        let subject = self.find_volume(wanted)?;
        let mut done = self.invoke(subject.target(), method, Vec::new(), &subject)?;
        done.message = Some(format!(
            "{} {}\n",
            subject.describe(),
            if method == "Release" {
                "released"
            } else {
                "put under control"
            }
        ));
        done.objects = ("volumes", self.affected(&subject)?);
        self.report(done);
        Ok(())
    }
}
