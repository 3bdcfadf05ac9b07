//! Our MOF compiler (DSP0004 subset): [`lexer`] → [`parser`] ([`ast`]) →
//! [`repository`] (type checking, inheritance resolution, class queries).

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod repository;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use lexer::Pos;
pub use repository::Repository;

/// A compilation error, located at `file:line:col` when it comes from source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MofError {
    pub file: Option<String>,
    pub pos: Option<Pos>,
    pub message: String,
}

impl MofError {
    pub fn at(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        MofError {
            file: Some(file.to_string()),
            pos: Some(pos),
            message: message.into(),
        }
    }

    pub fn plain(message: impl Into<String>) -> Self {
        MofError {
            file: None,
            pos: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for MofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.pos) {
            (Some(file), Some(p)) => write!(f, "{file}:{}:{}: {}", p.line, p.col, self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Compiles MOF files in order into one repository; `namespace` is the
/// namespace until a `#pragma namespace` changes it (per file).
pub fn compile_files(paths: &[PathBuf], namespace: &str) -> Result<Repository, MofError> {
    let mut decls = Vec::new();
    for p in paths {
        decls.extend(parser::parse_file(p, namespace)?);
    }
    Repository::build(&decls)
}

/// Compiles every `*.mof` file of a directory. Declaration order across
/// files does not matter (qualifiers are declared first and classes are
/// ordered by inheritance); a file that another file includes is compiled
/// only through that include.
pub fn compile_dir(dir: &Path, namespace: &str) -> Result<Repository, MofError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| MofError::plain(format!("{}: cannot list: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("mof")))
        .collect();
    files.sort();
    let included: HashSet<PathBuf> = files.iter().flat_map(|f| included_files(f)).collect();
    let top: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            let c = f.canonicalize().unwrap_or_else(|_| f.clone());
            !included.contains(&c)
        })
        .collect();
    compile_files(&top, namespace)
}

/// Files named by `#pragma include` in `file` (canonicalised), found by a
/// token scan so that a file's includes are known without compiling it.
fn included_files(file: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let Ok(toks) = lexer::tokenize(&text, &file.display().to_string()) else {
        return Vec::new();
    };
    let base = file.parent().unwrap_or(Path::new(""));
    toks.windows(4)
        .filter_map(|w| match (&w[0].tok, &w[1].tok, &w[3].tok) {
            (lexer::Tok::Pragma, lexer::Tok::Ident(n), lexer::Tok::Str(s))
                if n.eq_ignore_ascii_case("include") =>
            {
                let p = base.join(s);
                Some(p.canonicalize().unwrap_or(p))
            }
            _ => None,
        })
        .collect()
}

/// Compiles MOF source text (no `#pragma include`), for tests and tools.
pub fn compile_str(text: &str, name: &str, namespace: &str) -> Result<Repository, MofError> {
    let mut decls = Vec::new();
    let mut ns = namespace.to_string();
    parser::parse_source(text, name, &mut ns, &mut decls, &mut |_, pos, _, _| {
        Err(MofError::at(
            name,
            pos,
            "#pragma include is not available here",
        ))
    })?;
    Repository::build(&decls)
}
