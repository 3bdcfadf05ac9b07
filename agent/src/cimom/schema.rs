//! The schema the agent serves: which MOF files make up which namespace. The
//! files in `schema/` are embedded at build time ([`builtin`]); an override
//! directory with the same file names can replace them ([`from_dir`]).

use std::path::Path;

use crate::mof::ast::Decl;
use crate::mof::{parser, MofError, Repository};

/// Namespace of the dsimage classes (DS_IISet, DS_IIService...).
pub const DSIMAGE_NAMESPACE: &str = "root/dsimage";

/// The interop namespace (DSP1033). pywbem's `WBEMServer` tries `interop`
/// first and stops at the first namespace that does not answer
/// CIM_ERR_INVALID_NAMESPACE, so no alias (`root/interop`) is served: an
/// alias would only list every namespace twice in CIM_Namespace.
pub const INTEROP_NAMESPACE: &str = "interop";

/// Every namespace served, dsimage first.
pub const NAMESPACES: [&str; 2] = [DSIMAGE_NAMESPACE, INTEROP_NAMESPACE];

const QUALIFIERS: &str = "qualifiers.mof";
const BASE: &str = "cim_base.mof";
const DSIMAGE: &str = "dsimage.mof";
const INTEROP: &str = "interop.mof";

/// Files per namespace, in compilation order (qualifier types first).
const LAYOUT: [(&str, [&str; 3]); 2] = [
    (DSIMAGE_NAMESPACE, [QUALIFIERS, BASE, DSIMAGE]),
    (INTEROP_NAMESPACE, [QUALIFIERS, BASE, INTEROP]),
];

fn embedded(file: &str) -> &'static str {
    match file {
        QUALIFIERS => include_str!("../../../schema/qualifiers.mof"),
        BASE => include_str!("../../../schema/cim_base.mof"),
        DSIMAGE => include_str!("../../../schema/dsimage.mof"),
        INTEROP => include_str!("../../../schema/interop.mof"),
        other => unreachable!("{other} is not a schema file"),
    }
}

/// Compiles `(file name, text)` sources into the namespaces of [`LAYOUT`].
fn compile(source: impl Fn(&str) -> Result<String, MofError>) -> Result<Repository, MofError> {
    let mut decls: Vec<Decl> = Vec::new();
    for (namespace, files) in LAYOUT {
        for file in files {
            let text = source(file)?;
            let mut ns = namespace.to_string();
            parser::parse_source(&text, file, &mut ns, &mut decls, &mut |_, pos, _, _| {
                Err(MofError::at(
                    file,
                    pos,
                    "#pragma include is not used in the agent's schema",
                ))
            })?;
        }
    }
    Repository::build(&decls)
}

/// The schema compiled into the agent.
pub fn builtin() -> Result<Repository, MofError> {
    compile(|f| Ok(embedded(f).to_string()))
}

/// The schema from `dir`, which must hold `qualifiers.mof`, `cim_base.mof`,
/// `dsimage.mof` and `interop.mof` (an operator's override of the built-in
/// files; other files are ignored).
pub fn from_dir(dir: &Path) -> Result<Repository, MofError> {
    compile(|f| {
        let p = dir.join(f);
        std::fs::read_to_string(&p)
            .map_err(|e| MofError::plain(format!("{}: cannot read: {e}", p.display())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cim::CimStatus;

    #[test]
    fn builtin_serves_both_namespaces() {
        let r = builtin().unwrap();
        assert!(r.class(DSIMAGE_NAMESPACE, "DS_IIService").is_some());
        assert!(r.class(DSIMAGE_NAMESPACE, "CIM_ManagedElement").is_some());
        assert!(r
            .class(DSIMAGE_NAMESPACE, "CIM_RegisteredProfile")
            .is_none());
        assert!(r
            .class(INTEROP_NAMESPACE, "CIM_RegisteredProfile")
            .is_some());
        assert!(r.class(INTEROP_NAMESPACE, "DS_IISet").is_none());
        let e = r
            .get_class("root/interop", "CIM_Namespace", false, true, false, None)
            .unwrap_err();
        assert_eq!(e.status, CimStatus::InvalidNamespace);
    }

    #[test]
    fn from_dir_matches_builtin() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
        let a = from_dir(&dir).unwrap();
        let b = builtin().unwrap();
        for ns in NAMESPACES {
            assert_eq!(a.to_cim_xml_classes(ns), b.to_cim_xml_classes(ns));
        }
        let missing = from_dir(&dir.join("nonexistent")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }

    /// Classes of both namespaces as declared (local members only), one line
    /// per class, property, method and parameter: the form both compilers
    /// are compared in.
    fn summary(r: &Repository) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let arr = |a: bool| if a { "[]" } else { "" };
        let local_key = |p: &crate::cim::Property| {
            p.qualifiers.iter().any(|q| {
                q.name.eq_ignore_ascii_case("Key")
                    && !q.propagated
                    && q.value.as_ref().and_then(crate::cim::Value::as_bool) == Some(true)
            })
        };
        for ns in NAMESPACES {
            let mut classes = r.enumerate_classes(ns, None, true).unwrap();
            classes.sort_by_key(|c| c.name.to_lowercase());
            for c in classes {
                let sup = c.superclass.as_deref().unwrap_or("-");
                let _ = writeln!(out, "class {ns} {} : {sup}", c.name);
                let mut props: Vec<_> = c.properties.iter().filter(|p| !p.propagated).collect();
                props.sort_by_key(|p| p.name.to_lowercase());
                for p in props {
                    let _ = writeln!(
                        out,
                        "  prop {} {}{} {}{}",
                        p.name,
                        p.cimtype,
                        arr(p.is_array),
                        p.reference_class.as_deref().unwrap_or("-"),
                        if local_key(p) { " key" } else { "" }
                    );
                }
                let mut methods: Vec<_> = c.methods.iter().filter(|m| !m.propagated).collect();
                methods.sort_by_key(|m| m.name.to_lowercase());
                for m in methods {
                    let _ = writeln!(out, "  method {} {}", m.name, m.return_type);
                    for q in &m.parameters {
                        let _ = writeln!(
                            out,
                            "    param {} {}{} {}",
                            q.name,
                            q.cimtype,
                            arr(q.is_array),
                            q.reference_class.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
        }
        out
    }

    /// The same summary from pywbem's MOF compiler.
    const PYWBEM_SUMMARY: &str = r#"
import sys, pywbem
d = sys.argv[1]
for ns, files in [("root/dsimage", ["qualifiers.mof", "cim_base.mof", "dsimage.mof"]),
                  ("interop", ["qualifiers.mof", "cim_base.mof", "interop.mof"])]:
    conn = pywbem.MOFWBEMConnection()
    mc = pywbem.MOFCompiler(conn, search_paths=[d], verbose=False)
    for f in files:
        mc.compile_file(d + "/" + f, ns)
    for name in sorted(conn.classes[ns], key=str.lower):
        c = conn.classes[ns][name]
        print(f"class {ns} {c.classname} : {c.superclass or '-'}")
        for p in sorted(c.properties.values(), key=lambda p: p.name.lower()):
            key = " key" if p.qualifiers.get("Key") is not None and p.qualifiers["Key"].value else ""
            print(f"  prop {p.name} {p.type}{'[]' if p.is_array else ''} {p.reference_class or '-'}{key}")
        for m in sorted(c.methods.values(), key=lambda m: m.name.lower()):
            print(f"  method {m.name} {m.return_type}")
            for q in m.parameters.values():
                print(f"    param {q.name} {q.type}{'[]' if q.is_array else ''} {q.reference_class or '-'}")
"#;

    /// Compiles `schema/` with pywbem's MOF compiler and compares classes,
    /// superclasses, properties, keys, methods and parameters with ours.
    /// Needs `DSIMAGE_PYTHON`, a Python with pywbem (e.g. the bin/python of
    /// `scripts/venv`): `DSIMAGE_PYTHON=… cargo test -p dsimage-agent
    /// matches_pywbem -- --ignored`.
    #[test]
    #[ignore = "needs DSIMAGE_PYTHON with pywbem"]
    fn matches_pywbem_mof_compiler() {
        let python = std::env::var("DSIMAGE_PYTHON").expect("DSIMAGE_PYTHON is not set");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
        let out = std::process::Command::new(python)
            .arg("-c")
            .arg(PYWBEM_SUMMARY)
            .arg(&dir)
            .output()
            .expect("cannot run DSIMAGE_PYTHON");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = String::from_utf8(out.stdout).unwrap();
        let ours = summary(&builtin().unwrap());
        let diff: Vec<String> = ours
            .lines()
            .zip(theirs.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("ours:   {a}\npywbem: {b}"))
            .collect();
        assert!(diff.is_empty(), "{}", diff.join("\n"));
        assert_eq!(ours.lines().count(), theirs.lines().count());
    }
}
