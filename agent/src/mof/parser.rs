//! Recursive-descent parser for the DSP0004 MOF subset we use: pragmas
//! (with `include` resolved relative to the including file), qualifier
//! declarations, class declarations and `instance of` declarations.

use std::path::{Path, PathBuf};

use super::ast::*;
use super::lexer::{tokenize, Pos, Tok, Token};
use super::MofError;
use crate::cim::CimType;

/// Nesting limit for `#pragma include`, against include cycles.
const MAX_INCLUDE_DEPTH: usize = 16;

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    file: &'a str,
}

fn kw(t: &Tok, word: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn pos(&self) -> Pos {
        self.toks[self.i].pos
    }

    fn err(&self, msg: impl Into<String>) -> MofError {
        MofError::at(self.file, self.pos(), msg)
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.i].tok.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn describe(t: &Tok) -> String {
        match t {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Alias(s) => format!("'${s}'"),
            Tok::Str(_) => "a string".into(),
            Tok::Char(_) => "a char16 literal".into(),
            Tok::Int(_) | Tok::Real(_) => "a number".into(),
            Tok::Pragma => "#pragma".into(),
            Tok::Punct(c) => format!("'{c}'"),
            Tok::Eof => "end of file".into(),
        }
    }

    fn punct(&mut self, c: char) -> Result<(), MofError> {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            Ok(())
        } else {
            Err(self.err(format!(
                "expected '{c}', found {}",
                Self::describe(self.peek())
            )))
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            true
        } else {
            false
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, MofError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            t => Err(self.err(format!("expected {what}, found {}", Self::describe(&t)))),
        }
    }

    fn keyword(&mut self, word: &str) -> Result<(), MofError> {
        if kw(self.peek(), word) {
            self.next();
            Ok(())
        } else {
            Err(self.err(format!(
                "expected '{word}', found {}",
                Self::describe(self.peek())
            )))
        }
    }

    /// A string literal, joining adjacent literals ("a" "b" is "ab").
    fn string(&mut self) -> Result<String, MofError> {
        let mut s = match self.next() {
            Tok::Str(s) => s,
            t => {
                self.i -= 1;
                return Err(self.err(format!("expected a string, found {}", Self::describe(&t))));
            }
        };
        while let Tok::Str(more) = self.peek().clone() {
            self.next();
            s.push_str(&more);
        }
        Ok(s)
    }

    fn literal(&mut self) -> Result<Literal, MofError> {
        Ok(match self.peek().clone() {
            Tok::Str(_) => Literal::Str(self.string()?),
            Tok::Int(v) => {
                self.next();
                Literal::Int(v)
            }
            Tok::Real(v) => {
                self.next();
                Literal::Real(v)
            }
            Tok::Char(c) => {
                self.next();
                Literal::Char(c)
            }
            Tok::Alias(a) => {
                self.next();
                Literal::Alias(a)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => {
                self.next();
                Literal::Bool(true)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => {
                self.next();
                Literal::Bool(false)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => {
                self.next();
                Literal::Null
            }
            Tok::Punct('{') => {
                self.next();
                let mut items = Vec::new();
                if !self.eat('}') {
                    loop {
                        let l = self.literal()?;
                        if matches!(l, Literal::Array(_)) {
                            return Err(self.err("nested arrays are not allowed"));
                        }
                        items.push(l);
                        if self.eat('}') {
                            break;
                        }
                        self.punct(',')?;
                    }
                }
                Literal::Array(items)
            }
            t => return Err(self.err(format!("expected a value, found {}", Self::describe(&t)))),
        })
    }

    fn flavor(&mut self) -> Result<Flavor, MofError> {
        let name = self.ident("a flavor")?;
        Ok(match name.to_ascii_lowercase().as_str() {
            "enableoverride" => Flavor::EnableOverride,
            "disableoverride" => Flavor::DisableOverride,
            "tosubclass" => Flavor::ToSubclass,
            "restricted" => Flavor::Restricted,
            "translatable" => Flavor::Translatable,
            _ => {
                self.i -= 1;
                return Err(self.err(format!("unknown flavor {name}")));
            }
        })
    }

    /// `[ qualifier, ... ]` if present.
    fn qualifier_list(&mut self) -> Result<Vec<QualifierValue>, MofError> {
        let mut out = Vec::new();
        if !self.eat('[') {
            return Ok(out);
        }
        loop {
            let pos = self.pos();
            let name = self.ident("a qualifier name")?;
            let value = if self.eat('(') {
                let v = self.literal()?;
                self.punct(')')?;
                Some(v)
            } else if *self.peek() == Tok::Punct('{') {
                Some(self.literal()?)
            } else {
                None
            };
            let mut flavors = Vec::new();
            if self.eat(':') {
                while matches!(self.peek(), Tok::Ident(_)) {
                    flavors.push(self.flavor()?);
                }
            }
            out.push(QualifierValue {
                name,
                value,
                flavors,
                pos,
            });
            if self.eat(']') {
                return Ok(out);
            }
            self.punct(',')?;
        }
    }

    fn array_suffix(&mut self) -> Result<(bool, Option<u32>), MofError> {
        if !self.eat('[') {
            return Ok((false, None));
        }
        let size = match self.peek().clone() {
            Tok::Int(n) => {
                self.next();
                Some(u32::try_from(n).map_err(|_| self.err("invalid array size"))?)
            }
            _ => None,
        };
        self.punct(']')?;
        Ok((true, size))
    }

    /// `type` or `ClassName REF`.
    fn data_type(&mut self) -> Result<DataType, MofError> {
        let name = self.ident("a data type")?;
        if kw(self.peek(), "ref") {
            self.next();
            return Ok(DataType::Ref(name));
        }
        match CimType::from_name(&name) {
            Some(CimType::Reference) | None => {
                self.i -= 1;
                Err(self.err(format!("unknown data type {name}")))
            }
            Some(t) => Ok(DataType::Prim(t)),
        }
    }

    fn qualifier_decl(&mut self) -> Result<QualifierDeclAst, MofError> {
        let pos = self.pos();
        self.keyword("qualifier")?;
        let name = self.ident("a qualifier name")?;
        self.punct(':')?;
        let tname = self.ident("a data type")?;
        let cimtype = CimType::from_name(&tname)
            .filter(|t| *t != CimType::Reference)
            .ok_or_else(|| self.err(format!("unknown qualifier type {tname}")))?;
        let (is_array, array_size) = self.array_suffix()?;
        let default = if self.eat('=') {
            Some(self.literal()?)
        } else {
            None
        };
        let mut scopes = Vec::new();
        let mut flavors = Vec::new();
        while self.eat(',') {
            let what = self.ident("Scope or Flavor")?;
            self.punct('(')?;
            if what.eq_ignore_ascii_case("scope") {
                loop {
                    scopes.push(self.ident("a scope")?.to_ascii_lowercase());
                    if !self.eat(',') {
                        break;
                    }
                }
            } else if what.eq_ignore_ascii_case("flavor") {
                loop {
                    flavors.push(self.flavor()?);
                    if !self.eat(',') {
                        break;
                    }
                }
            } else {
                return Err(self.err(format!("expected Scope or Flavor, found {what}")));
            }
            self.punct(')')?;
        }
        self.punct(';')?;
        if scopes.is_empty() {
            return Err(MofError::at(
                self.file,
                pos,
                format!("qualifier {name} has no Scope"),
            ));
        }
        Ok(QualifierDeclAst {
            name,
            cimtype,
            is_array,
            array_size,
            default,
            scopes,
            flavors,
            pos,
        })
    }

    fn class_decl(
        &mut self,
        qualifiers: Vec<QualifierValue>,
        pos: Pos,
    ) -> Result<ClassAst, MofError> {
        self.keyword("class")?;
        let name = self.ident("a class name")?;
        let superclass = if self.eat(':') {
            Some(self.ident("a superclass name")?)
        } else {
            None
        };
        self.punct('{')?;
        let mut properties = Vec::new();
        let mut methods = Vec::new();
        while !self.eat('}') {
            let fpos = self.pos();
            let quals = self.qualifier_list()?;
            let dtype = self.data_type()?;
            let fname = self.ident("a property or method name")?;
            if self.eat('(') {
                let mut params = Vec::new();
                if !self.eat(')') {
                    loop {
                        let ppos = self.pos();
                        let pq = self.qualifier_list()?;
                        let pt = self.data_type()?;
                        let pname = self.ident("a parameter name")?;
                        let (is_array, array_size) = self.array_suffix()?;
                        params.push(ParameterAst {
                            qualifiers: pq,
                            dtype: pt,
                            name: pname,
                            is_array,
                            array_size,
                            pos: ppos,
                        });
                        if self.eat(')') {
                            break;
                        }
                        self.punct(',')?;
                    }
                }
                self.punct(';')?;
                methods.push(MethodAst {
                    qualifiers: quals,
                    return_type: dtype,
                    name: fname,
                    params,
                    pos: fpos,
                });
            } else {
                let (is_array, array_size) = self.array_suffix()?;
                let default = if self.eat('=') {
                    Some(self.literal()?)
                } else {
                    None
                };
                self.punct(';')?;
                properties.push(PropertyAst {
                    qualifiers: quals,
                    dtype,
                    name: fname,
                    is_array,
                    array_size,
                    default,
                    pos: fpos,
                });
            }
        }
        self.punct(';')?;
        Ok(ClassAst {
            qualifiers,
            name,
            superclass,
            properties,
            methods,
            pos,
        })
    }

    fn instance_decl(&mut self, pos: Pos) -> Result<InstanceAst, MofError> {
        self.keyword("instance")?;
        self.keyword("of")?;
        let classname = self.ident("a class name")?;
        let alias = if kw(self.peek(), "as") {
            self.next();
            match self.next() {
                Tok::Alias(a) => Some(a),
                t => {
                    self.i -= 1;
                    return Err(
                        self.err(format!("expected an alias, found {}", Self::describe(&t)))
                    );
                }
            }
        } else {
            None
        };
        self.punct('{')?;
        let mut values = Vec::new();
        while !self.eat('}') {
            let _ = self.qualifier_list()?;
            let vpos = self.pos();
            let name = self.ident("a property name")?;
            self.punct('=')?;
            let v = self.literal()?;
            self.punct(';')?;
            values.push((name, v, vpos));
        }
        self.punct(';')?;
        Ok(InstanceAst {
            classname,
            alias,
            values,
            pos,
        })
    }
}

/// Parses one file (and, recursively, what it includes) into
/// declarations. `namespace` is the initial current namespace.
pub fn parse_file(path: &Path, namespace: &str) -> Result<Vec<Decl>, MofError> {
    let mut out = Vec::new();
    let mut ns = namespace.to_string();
    parse_file_into(path, &mut ns, &mut out, 0)?;
    Ok(out)
}

fn parse_file_into(
    path: &Path,
    ns: &mut String,
    out: &mut Vec<Decl>,
    depth: usize,
) -> Result<(), MofError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| MofError::plain(format!("{file}: cannot read: {e}")))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_source(&text, &file, ns, out, &mut |inc, pos, ns, out| {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(MofError::at(
                &file,
                pos,
                "includes nested too deeply (cycle?)",
            ));
        }
        let p: PathBuf = base.join(inc);
        parse_file_into(&p, ns, out, depth + 1)
    })
}

type IncludeFn<'a> = dyn FnMut(&str, Pos, &mut String, &mut Vec<Decl>) -> Result<(), MofError> + 'a;

/// Parses MOF text. `include` is called for `#pragma include`.
pub fn parse_source(
    text: &str,
    file: &str,
    ns: &mut String,
    out: &mut Vec<Decl>,
    include: &mut IncludeFn<'_>,
) -> Result<(), MofError> {
    let mut p = Parser {
        toks: tokenize(text, file)?,
        i: 0,
        file,
    };
    loop {
        let pos = p.pos();
        match p.peek().clone() {
            Tok::Eof => return Ok(()),
            Tok::Pragma => {
                p.next();
                let name = p.ident("a pragma name")?;
                p.punct('(')?;
                let value = p.string()?;
                p.punct(')')?;
                match name.to_ascii_lowercase().as_str() {
                    "include" => include(&value, pos, ns, out)?,
                    "namespace" => *ns = value.trim_matches('/').to_string(),
                    // Locale and vendor pragmas do not affect the compiled model.
                    _ => {}
                }
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("qualifier") => {
                let q = p.qualifier_decl()?;
                out.push(Decl {
                    kind: DeclKind::Qualifier(q),
                    file: file.into(),
                    namespace: ns.clone(),
                });
            }
            _ => {
                let quals = p.qualifier_list()?;
                let kind = if kw(p.peek(), "class") {
                    DeclKind::Class(p.class_decl(quals, pos)?)
                } else if kw(p.peek(), "instance") {
                    DeclKind::Instance(p.instance_decl(pos)?)
                } else {
                    return Err(p.err(format!(
                        "expected class, instance, qualifier or #pragma, found {}",
                        Parser::describe(p.peek())
                    )));
                };
                out.push(Decl {
                    kind,
                    file: file.into(),
                    namespace: ns.clone(),
                });
            }
        }
        // Tolerate stray ';' between declarations.
        while p.eat(';') {}
    }
}
