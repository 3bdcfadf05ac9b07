//! The command line of `iiadm`: subcommands (`iiadm update to-shadow SET`) and the
//! classic short options of Sun's iiadm (`iiadm -u s SET`), which are read into the
//! same [`Command`], so that both forms do exactly the same.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::error::ClientError;
use super::http::DEFAULT_URL;

const CLASSIC: &str = "Classic iiadm options (instead of a command)";

const AFTER_HELP: &str = "\
Classic forms: -e ind|dep MASTER SHADOW BITMAP (enable), -d SET (disable),
-u s|m SET (update), -c s|m SET (copy), -w SET (wait), -a SET (abort),
-i [SET] (status), -l (list), -L (group list), -P DELAY UNITS SET (copy-params),
-g GROUP with -u s|m, -c s|m, -w, -a, -i or -P DELAY UNITS (the group's), and -n
(do not ask before overwriting a master). s is to the shadow, m to the master.

Copying or updating to the master overwrites it: iiadm asks on a terminal and refuses
without -n/--yes when standard input is not a terminal.

Exit codes: 0 ok, 1 failure, 2 usage, invalid parameter or not confirmed, 3 not found,
4 already exists, 5 in use, 6 busy or invalid state, 7 size mismatch or out of space,
8 not supported, 9 timeout, 10 agent unreachable, 11 authentication refused.
See docs/iiadm.md.";

/// `iiadm`: administer the point-in-time copies of a dsimage agent, local or remote,
/// over the same CIM-XML API as any WBEM client.
#[derive(Parser, Debug)]
#[command(
    name = "iiadm",
    version,
    about = "Administer dsimage point-in-time copies (volume sets and groups) through a dsimaged agent",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Print results as JSON: the CIM instances' properties, named as in the MOF.
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not ask before overwriting a master volume (classic -n).
    #[arg(short = 'n', long = "yes", global = true)]
    pub yes: bool,
    #[command(flatten)]
    pub classic: Classic,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How to reach the agent.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ConnectionArgs {
    /// The agent: http[s]://host[:port] (ports 5988 HTTP, 5989 HTTPS).
    #[arg(long, env = "DSIMAGE_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// User name of the agent (`dsimaged adduser`).
    #[arg(long, env = "DSIMAGE_USER", global = true)]
    pub user: Option<String>,
    /// Password (prefer the environment: a command line is visible to other users).
    #[arg(long, env = "DSIMAGE_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// HTTPS: accept any certificate, such as the agent's self-signed one (the
    /// connection is encrypted, but the agent is not authenticated).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// HTTPS: trust the certificates of this PEM file (e.g. a copy of the agent's
    /// <state-dir>/tls/cert.pem) instead of the system's CA bundle.
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "insecure")]
    pub ca_file: Option<PathBuf>,
}

/// Direction of a copy or update.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Master to shadow (classic s).
    #[value(name = "to-shadow", alias = "s")]
    ToShadow,
    /// Shadow to master (classic m): overwrites the master.
    #[value(name = "to-master", alias = "m")]
    ToMaster,
}

impl Direction {
    /// DS_IISet.Direction / the Direction parameter (1 Master To Shadow, 2 Shadow To
    /// Master).
    pub fn code(self) -> u16 {
        match self {
            Direction::ToShadow => 1,
            Direction::ToMaster => 2,
        }
    }
}

/// Kind of a new set.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetType {
    /// Independent: the shadow becomes a full copy, made in the background.
    #[value(name = "ind", alias = "independent")]
    Independent,
    /// Dependent: the shadow holds the chunks changed since the point in time.
    #[value(name = "dep", alias = "dependent")]
    Dependent,
}

impl SetType {
    /// DS_IISet.Type / CreateIISet's Type (1 Independent, 2 Dependent).
    pub fn code(self) -> u16 {
        match self {
            SetType::Independent => 1,
            SetType::Dependent => 2,
        }
    }
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct EnableArgs {
    /// ind (independent) or dep (dependent).
    #[arg(long = "type", short = 't', value_name = "ind|dep")]
    pub kind: SetType,
    /// Master volume (device path).
    pub master: String,
    /// Shadow volume (device path).
    pub shadow: String,
    /// Bitmap volume (device path).
    pub bitmap: String,
    /// Name of the set (default: the shadow's path, as classic iiadm names sets).
    #[arg(long)]
    pub name: Option<String>,
    /// Chunk size in KiB: a power of two from 4 to 512 (default 32).
    #[arg(long, value_name = "K")]
    pub chunk_kib: Option<u64>,
    /// A compact dependent set: the shadow may be smaller than the master.
    #[arg(long)]
    pub compact: bool,
}

impl EnableArgs {
    pub fn set_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.shadow)
    }
}

/// Throttle of the background copies of independent sets.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ThrottleArgs {
    /// Chunks copied per batch.
    #[arg(long, value_name = "CHUNKS", required_unless_present = "clear")]
    pub units: Option<u32>,
    /// Pause after each batch in milliseconds, at most 60000 (default 0).
    #[arg(long, value_name = "MS", requires = "units")]
    pub delay_ms: Option<u32>,
    /// Lift the throttle: copies go at full speed.
    #[arg(long, conflicts_with_all = ["units", "delay_ms"])]
    pub clear: bool,
}

/// What a throttle request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Batches { units: u32, delay_ms: u32 },
    Off,
}

impl ThrottleArgs {
    pub fn throttle(&self) -> Throttle {
        match self.units {
            Some(units) if !self.clear => Throttle::Batches {
                units,
                delay_ms: self.delay_ms.unwrap_or(0),
            },
            _ => Throttle::Off,
        }
    }
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Enable a volume set (classic -e ind|dep MASTER SHADOW BITMAP).
    Enable(EnableArgs),
    /// Disable a set; the shadow keeps its contents (classic -d SET).
    Disable { set: String },
    /// Update: copy the changed chunks, to-shadow or to-master (classic -u s|m SET).
    Update { direction: Direction, set: String },
    /// Full copy, to-shadow or to-master (classic -c s|m SET).
    Copy { direction: Direction, set: String },
    /// Wait until the set's copy or update is over (classic -w SET).
    Wait {
        set: String,
        /// Give up after this many seconds (default: no limit).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u32>,
    },
    /// Stop the background copy of an independent set for good (classic -a SET).
    Abort { set: String },
    /// Suspend the background copy of an independent set.
    Suspend { set: String },
    /// Resume a suspended copy.
    Resume { set: String },
    /// Throttle an independent set's copies (classic -P DELAY UNITS SET), or --clear.
    CopyParams {
        set: String,
        #[command(flatten)]
        throttle: ThrottleArgs,
    },
    /// Status of one set or of every set (classic -i [SET]).
    Status { set: Option<String> },
    /// One line per set (classic -l).
    List,
    /// Groups of sets copied and updated at one point in time.
    #[command(subcommand)]
    Group(GroupCommand),
    /// The agent's block devices: size, use, suitability for a set.
    Volumes,
    /// Put a volume under the agent's control (DS_StorageVolume.PutUnderControl).
    Control {
        /// Device path (/dev/vdb) or name (vdb).
        path: String,
    },
    /// Release a volume that is in no set (DS_StorageVolume.Release).
    Release {
        /// Device path (/dev/vdb) or name (vdb).
        path: String,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum GroupCommand {
    /// Create an empty group.
    Create { group: String },
    /// Delete a group; its sets stay, ungrouped.
    Delete { group: String },
    /// Add an idle set to a group.
    Add { group: String, set: String },
    /// Take an idle set out of its group.
    Remove { group: String, set: String },
    /// Update every set of the group at one point in time (classic -g G -u s|m).
    Update { direction: Direction, group: String },
    /// Copy every set of the group at one point in time (classic -g G -c s|m).
    Copy { direction: Direction, group: String },
    /// Wait until no set of the group copies (classic -g G -w).
    Wait {
        group: String,
        /// Give up after this many seconds (default: no limit).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u32>,
    },
    /// Abort the copies of an independent group's sets (classic -g G -a).
    Abort { group: String },
    /// Suspend the copies of an independent group's sets.
    Suspend { group: String },
    /// Resume them.
    Resume { group: String },
    /// Throttle every set of the group (classic -g G -P DELAY UNITS), or --clear.
    CopyParams {
        group: String,
        #[command(flatten)]
        throttle: ThrottleArgs,
    },
    /// Status of one group or of every group, with its sets (classic -g G -i).
    Status { group: Option<String> },
    /// One line per group (classic -L).
    List,
}

/// The classic short options; at most one of them (with -g for a group).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Classic {
    /// Enable a set.
    #[arg(short = 'e', num_args = 4, value_names = ["ind|dep", "MASTER", "SHADOW", "BITMAP"], help_heading = CLASSIC)]
    pub enable: Option<Vec<String>>,
    /// Disable a set.
    #[arg(short = 'd', value_name = "SET", help_heading = CLASSIC)]
    pub disable: Option<String>,
    /// Update to the shadow (s) or to the master (m).
    #[arg(short = 'u', num_args = 1..=2, value_names = ["s|m", "SET"], help_heading = CLASSIC)]
    pub update: Option<Vec<String>>,
    /// Full copy to the shadow (s) or to the master (m).
    #[arg(short = 'c', num_args = 1..=2, value_names = ["s|m", "SET"], help_heading = CLASSIC)]
    pub copy: Option<Vec<String>>,
    /// Wait for the copy or update of a set (or of -g's group).
    #[arg(short = 'w', num_args = 0..=1, value_name = "SET", help_heading = CLASSIC)]
    pub wait: Option<Option<String>>,
    /// Abort the copy of a set (or of -g's group).
    #[arg(short = 'a', num_args = 0..=1, value_name = "SET", help_heading = CLASSIC)]
    pub abort: Option<Option<String>>,
    /// Status of a set, of every set, or of -g's group.
    #[arg(short = 'i', num_args = 0..=1, value_name = "SET", help_heading = CLASSIC)]
    pub info: Option<Option<String>>,
    /// List the sets.
    #[arg(short = 'l', help_heading = CLASSIC)]
    pub list: bool,
    /// List the groups.
    #[arg(short = 'L', help_heading = CLASSIC)]
    pub list_groups: bool,
    /// Copy parameters: DELAY ms after each batch of UNITS chunks.
    #[arg(short = 'P', num_args = 2..=3, value_names = ["DELAY", "UNITS", "SET"], help_heading = CLASSIC)]
    pub params: Option<Vec<String>>,
    /// The group that -u, -c, -w, -a, -i or -P act on.
    #[arg(short = 'g', value_name = "GROUP", help_heading = CLASSIC)]
    pub group: Option<String>,
}

fn usage(msg: impl Into<String>) -> ClientError {
    ClientError::Usage(msg.into())
}

fn direction(opt: &str, v: &str) -> Result<Direction, ClientError> {
    Direction::from_str(v, true).map_err(|_| {
        usage(format!(
            "{opt}: {v:?} is no direction: s (to the shadow) or m (to the master)"
        ))
    })
}

fn number(opt: &str, what: &str, v: &str) -> Result<u32, ClientError> {
    v.parse()
        .map_err(|_| usage(format!("{opt}: {what} {v:?} is not a number")))
}

impl Classic {
    /// The options given, by name.
    fn given(&self) -> Vec<&'static str> {
        [
            ("-e", self.enable.is_some()),
            ("-d", self.disable.is_some()),
            ("-u", self.update.is_some()),
            ("-c", self.copy.is_some()),
            ("-w", self.wait.is_some()),
            ("-a", self.abort.is_some()),
            ("-i", self.info.is_some()),
            ("-l", self.list),
            ("-L", self.list_groups),
            ("-P", self.params.is_some()),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect()
    }

    /// The command the classic options ask for, if any.
    pub fn command(&self) -> Result<Option<Command>, ClientError> {
        let given = self.given();
        let opt = match given.as_slice() {
            [] if self.group.is_some() => {
                return Err(usage("-g GROUP goes with one of -u, -c, -w, -a, -i or -P"))
            }
            [] => return Ok(None),
            [one] => *one,
            many => {
                return Err(usage(format!(
                    "one classic option at a time, not {}",
                    many.join(" and ")
                )))
            }
        };
        match &self.group {
            None => self.set_command(opt).map(Some),
            Some(g) => self.group_command(opt, g).map(|c| Some(Command::Group(c))),
        }
    }

    fn set_command(&self, opt: &str) -> Result<Command, ClientError> {
        let needs_set = |what: &str| usage(format!("{opt} needs {what}"));
        Ok(match opt {
            "-e" => {
                let v = self.enable.as_deref().unwrap_or_default();
                let [kind, master, shadow, bitmap] = v else {
                    return Err(needs_set("ind|dep MASTER SHADOW BITMAP"));
                };
                Command::Enable(EnableArgs {
                    kind: SetType::from_str(kind, true)
                        .map_err(|_| usage(format!("-e: {kind:?} is no set type: ind or dep")))?,
                    master: master.clone(),
                    shadow: shadow.clone(),
                    bitmap: bitmap.clone(),
                    name: None,
                    chunk_kib: None,
                    compact: false,
                })
            }
            "-d" => Command::Disable {
                set: self.disable.clone().unwrap_or_default(),
            },
            "-u" | "-c" => {
                let v = if opt == "-u" {
                    &self.update
                } else {
                    &self.copy
                };
                let [dir, set] = v.as_deref().unwrap_or_default() else {
                    return Err(needs_set("s|m and a SET (or -g GROUP)"));
                };
                let (direction, set) = (direction(opt, dir)?, set.clone());
                if opt == "-u" {
                    Command::Update { direction, set }
                } else {
                    Command::Copy { direction, set }
                }
            }
            "-w" => Command::Wait {
                set: self
                    .wait
                    .clone()
                    .flatten()
                    .ok_or_else(|| needs_set("a SET (or -g GROUP)"))?,
                timeout: None,
            },
            "-a" => Command::Abort {
                set: self
                    .abort
                    .clone()
                    .flatten()
                    .ok_or_else(|| needs_set("a SET (or -g GROUP)"))?,
            },
            "-i" => Command::Status {
                set: self.info.clone().flatten(),
            },
            "-l" => Command::List,
            "-L" => Command::Group(GroupCommand::List),
            "-P" => {
                let [delay, units, set] = self.params.as_deref().unwrap_or_default() else {
                    return Err(needs_set("DELAY UNITS SET (or -g GROUP and DELAY UNITS)"));
                };
                Command::CopyParams {
                    set: set.clone(),
                    throttle: throttle(delay, units)?,
                }
            }
            other => unreachable!("classic option {other}"),
        })
    }

    fn group_command(&self, opt: &str, g: &str) -> Result<GroupCommand, ClientError> {
        let group = g.to_string();
        let no_set = |v: &Option<Option<String>>| match v.clone().flatten() {
            Some(s) => Err(usage(format!(
                "{opt} with -g {g} acts on the group: give no set ({s})"
            ))),
            None => Ok(()),
        };
        Ok(match opt {
            "-u" | "-c" => {
                let v = if opt == "-u" {
                    &self.update
                } else {
                    &self.copy
                };
                let [dir] = v.as_deref().unwrap_or_default() else {
                    return Err(usage(format!(
                        "{opt} with -g {g} takes only s or m (the group's sets are copied)"
                    )));
                };
                let direction = direction(opt, dir)?;
                if opt == "-u" {
                    GroupCommand::Update { direction, group }
                } else {
                    GroupCommand::Copy { direction, group }
                }
            }
            "-w" => {
                no_set(&self.wait)?;
                GroupCommand::Wait {
                    group,
                    timeout: None,
                }
            }
            "-a" => {
                no_set(&self.abort)?;
                GroupCommand::Abort { group }
            }
            "-i" => {
                no_set(&self.info)?;
                GroupCommand::Status { group: Some(group) }
            }
            "-P" => {
                let [delay, units] = self.params.as_deref().unwrap_or_default() else {
                    return Err(usage(format!("-P with -g {g} takes DELAY UNITS")));
                };
                GroupCommand::CopyParams {
                    group,
                    throttle: throttle(delay, units)?,
                }
            }
            other => return Err(usage(format!("{other} does not go with -g"))),
        })
    }
}

fn throttle(delay: &str, units: &str) -> Result<ThrottleArgs, ClientError> {
    Ok(ThrottleArgs {
        units: Some(number("-P", "UNITS", units)?),
        delay_ms: Some(number("-P", "DELAY", delay)?),
        clear: false,
    })
}

impl Cli {
    /// The command to run, from a subcommand or the classic options.
    pub fn resolve(&self) -> Result<Command, ClientError> {
        match (&self.command, self.classic.command()?) {
            (Some(c), None) => Ok(c.clone()),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(usage(
                "no command: try `iiadm --help` (for example `iiadm list` or `iiadm -l`)",
            )),
            (Some(_), Some(_)) => Err(usage("give a command or a classic option, not both")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        let cli = Cli::try_parse_from(std::iter::once("iiadm").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.resolve().map_err(|e| e.to_string())
    }

    fn same(classic: &[&str], long: &[&str]) -> Command {
        let a = parse(classic).unwrap_or_else(|e| panic!("{classic:?}: {e}"));
        let b = parse(long).unwrap_or_else(|e| panic!("{long:?}: {e}"));
        assert_eq!(a, b, "{classic:?} vs {long:?}");
        a
    }

    #[test]
    fn classic_and_long_forms_are_the_same_command() {
        let e = same(
            &["-e", "ind", "/dev/vdb", "/dev/vdc", "/dev/vdd"],
            &[
                "enable", "--type", "ind", "/dev/vdb", "/dev/vdc", "/dev/vdd",
            ],
        );
        let Command::Enable(a) = e else { panic!() };
        assert_eq!(
            a.set_name(),
            "/dev/vdc",
            "named after the shadow by default"
        );
        same(&["-d", "web"], &["disable", "web"]);
        same(&["-u", "s", "web"], &["update", "to-shadow", "web"]);
        same(&["-u", "m", "web"], &["update", "to-master", "web"]);
        same(&["-c", "s", "web"], &["copy", "to-shadow", "web"]);
        same(&["-c", "m", "web"], &["copy", "to-master", "web"]);
        same(&["-w", "web"], &["wait", "web"]);
        same(&["-a", "web"], &["abort", "web"]);
        same(&["-i", "web"], &["status", "web"]);
        same(&["-i"], &["status"]);
        same(&["-l"], &["list"]);
        same(&["-L"], &["group", "list"]);
        let p = same(
            &["-P", "60000", "32", "ind"],
            &["copy-params", "ind", "--units", "32", "--delay-ms", "60000"],
        );
        let Command::CopyParams { throttle, .. } = p else {
            panic!()
        };
        assert_eq!(
            throttle.throttle(),
            Throttle::Batches {
                units: 32,
                delay_ms: 60000
            }
        );
        same(
            &["-g", "g", "-u", "s"],
            &["group", "update", "to-shadow", "g"],
        );
        same(
            &["-g", "g", "-c", "m"],
            &["group", "copy", "to-master", "g"],
        );
        same(&["-g", "g", "-w"], &["group", "wait", "g"]);
        same(&["-g", "g", "-a"], &["group", "abort", "g"]);
        same(&["-g", "g", "-i"], &["group", "status", "g"]);
        same(
            &["-g", "g", "-P", "10", "8"],
            &[
                "group",
                "copy-params",
                "g",
                "--units",
                "8",
                "--delay-ms",
                "10",
            ],
        );
        // -n and the connection options go anywhere.
        same(
            &["-n", "-c", "m", "web", "--json"],
            &["copy", "to-master", "web", "--yes", "--json"],
        );
        // Long direction names work in classic options and the reverse.
        same(&["-u", "to-master", "web"], &["update", "m", "web"]);
    }

    #[test]
    fn global_options() {
        let cli = Cli::try_parse_from([
            "iiadm",
            "list",
            "--url",
            "https://h:1",
            "--user",
            "u",
            "--password",
            "p",
            "--insecure",
            "-n",
        ])
        .unwrap();
        assert_eq!(cli.connection.url, "https://h:1");
        assert_eq!(cli.connection.user.as_deref(), Some("u"));
        assert_eq!(cli.connection.password.as_deref(), Some("p"));
        assert!(cli.connection.insecure && cli.yes && !cli.json);
        let cli = Cli::try_parse_from(["iiadm", "--json", "-l"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.resolve().unwrap(), Command::List);
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        for (args, says) in [
            (&["-u", "x", "web"][..], "no direction"),
            (&["-u", "web"][..], "-u needs s|m and a SET"),
            (&["-e", "mirror", "a", "b", "c"][..], "no set type"),
            (&["-d", "web", "-l"][..], "one classic option at a time"),
            (&["-g", "g"][..], "-g GROUP goes with"),
            (&["-g", "g", "-u", "s", "web"][..], "takes only s or m"),
            (&["-g", "g", "-w", "web"][..], "give no set"),
            (&["-g", "g", "-d", "web"][..], "does not go with -g"),
            (&["-g", "g", "-P", "1", "2", "3"][..], "takes DELAY UNITS"),
            (
                &["-P", "soon", "8", "web"][..],
                "DELAY \"soon\" is not a number",
            ),
            (&["-w"][..], "-w needs a SET"),
            (&[][..], "no command"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(says), "{args:?}: {e}");
        }
        // clap's own checks.
        for args in [
            &["copy-params", "web"][..],
            &["copy-params", "web", "--clear", "--units", "3"][..],
            &["copy-params", "web", "--delay-ms", "3"][..],
            &["update", "sideways", "web"][..],
            &["list", "-l"][..],
            &["enable", "a", "b", "c"][..],
            &["status", "--insecure", "--ca-file", "x"][..],
        ] {
            assert!(parse(args).is_err(), "{args:?} should not parse");
        }
        let Command::CopyParams { throttle, .. } =
            parse(&["copy-params", "web", "--clear"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(throttle.throttle(), Throttle::Off);
        let Command::CopyParams { throttle, .. } =
            parse(&["copy-params", "web", "--units", "4"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            throttle.throttle(),
            Throttle::Batches {
                units: 4,
                delay_ms: 0
            }
        );
    }

    #[test]
    fn help_shows_both_forms() {
        use clap::CommandFactory;
        let help = <Cli as CommandFactory>::command()
            .render_long_help()
            .to_string();
        for s in [
            "enable",
            "update",
            "group",
            "-e <ind|dep>",
            "-P <DELAY>",
            "--insecure",
            "Exit codes",
        ] {
            assert!(help.contains(s), "{s} missing from --help:\n{help}");
        }
        <Cli as CommandFactory>::command().debug_assert();
    }
}
