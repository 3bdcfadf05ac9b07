//! MOF tokens with line/column positions (DSP0004 annex A lexical rules:
//! comments, identifiers, and string/char/integer/real literals).

use super::MofError;

/// A position in a source file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Identifiers and keywords (keywords are matched case-insensitively
    /// by the parser, since MOF keywords are case-insensitive).
    Ident(String),
    /// `$alias`.
    Alias(String),
    /// A string literal, escapes resolved (adjacent literals are joined by
    /// the parser).
    Str(String),
    Char(char),
    Int(i128),
    Real(f64),
    /// `#pragma`.
    Pragma,
    Punct(char),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    i: usize,
    line: u32,
    col: u32,
    file: &'a str,
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: Pos, msg: impl Into<String>) -> MofError {
        MofError::at(self.file, pos, msg)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.i + off).copied().unwrap_or(0)
    }

    fn bump(&mut self) -> char {
        let c = self.text[self.i..].chars().next().unwrap_or('\0');
        self.i += c.len_utf8().max(1);
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        c
    }

    fn skip_trivia(&mut self) -> Result<(), MofError> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (b' ' | b'\t' | b'\r' | b'\n', _) => {
                    self.bump();
                }
                // A byte-order mark at the start of a file.
                (0xEF, 0xBB) if self.i == 0 => {
                    self.i += 3;
                }
                (b'/', b'/') => {
                    while self.i < self.src.len() && self.peek(0) != b'\n' {
                        self.bump();
                    }
                }
                (b'/', b'*') => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        if self.i >= self.src.len() {
                            return Err(self.err(start, "unterminated comment"));
                        }
                        if self.peek(0) == b'*' && self.peek(1) == b'/' {
                            self.bump();
                            self.bump();
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn escape(&mut self, start: Pos) -> Result<char, MofError> {
        let c = self.bump();
        Ok(match c {
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'f' => '\u{c}',
            'r' => '\r',
            '"' => '"',
            '\'' => '\'',
            '\\' => '\\',
            'x' | 'X' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 4 && self.peek(0).is_ascii_hexdigit() {
                    v = v * 16 + (self.bump().to_digit(16).unwrap_or(0));
                    n += 1;
                }
                if n == 0 {
                    return Err(self.err(start, "\\x escape without hex digits"));
                }
                char::from_u32(v).ok_or_else(|| self.err(start, "invalid \\x escape"))?
            }
            _ => return Err(self.err(start, format!("unknown escape \\{c}"))),
        })
    }

    fn number(&mut self, start: Pos) -> Result<Tok, MofError> {
        let begin = self.i;
        if matches!(self.peek(0), b'+' | b'-') {
            self.bump();
        }
        while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'.' {
            // An exponent sign belongs to the number.
            if matches!(self.peek(0), b'e' | b'E') && matches!(self.peek(1), b'+' | b'-') {
                self.bump();
            }
            self.bump();
        }
        let s = &self.text[begin..self.i];
        let bad = || self.err(start, format!("invalid number {s:?}"));
        let (neg, body) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let sign = |v: i128| if neg { -v } else { v };
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            return i128::from_str_radix(h, 16)
                .map(|v| Tok::Int(sign(v)))
                .map_err(|_| bad());
        }
        if let Some(b) = body.strip_suffix(['b', 'B']) {
            return i128::from_str_radix(b, 2)
                .map(|v| Tok::Int(sign(v)))
                .map_err(|_| bad());
        }
        if body.contains(['.', 'e', 'E']) {
            return s.parse::<f64>().map(Tok::Real).map_err(|_| bad());
        }
        if body.len() > 1 && body.starts_with('0') {
            return i128::from_str_radix(&body[1..], 8)
                .map(|v| Tok::Int(sign(v)))
                .map_err(|_| bad());
        }
        body.parse::<i128>()
            .map(|v| Tok::Int(sign(v)))
            .map_err(|_| bad())
    }

    fn next(&mut self) -> Result<Token, MofError> {
        self.skip_trivia()?;
        let pos = self.pos();
        let c = self.peek(0);
        let tok = if self.i >= self.src.len() {
            Tok::Eof
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let b = self.i;
            while self.peek(0).is_ascii_alphanumeric()
                || self.peek(0) == b'_'
                || self.peek(0) >= 0x80
            {
                self.bump();
            }
            Tok::Ident(self.text[b..self.i].to_string())
        } else if c == b'$' {
            self.bump();
            let b = self.i;
            while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' {
                self.bump();
            }
            if b == self.i {
                return Err(self.err(pos, "empty alias name after '$'"));
            }
            Tok::Alias(self.text[b..self.i].to_string())
        } else if c.is_ascii_digit()
            || (matches!(c, b'-' | b'+') && (self.peek(1).is_ascii_digit() || self.peek(1) == b'.'))
            || (c == b'.' && self.peek(1).is_ascii_digit())
        {
            self.number(pos)?
        } else if c == b'"' {
            self.bump();
            let mut s = String::new();
            loop {
                match self.peek(0) {
                    0 if self.i >= self.src.len() => {
                        return Err(self.err(pos, "unterminated string literal"))
                    }
                    b'\n' => return Err(self.err(pos, "newline in string literal")),
                    b'"' => {
                        self.bump();
                        break;
                    }
                    b'\\' => {
                        let p = self.pos();
                        self.bump();
                        s.push(self.escape(p)?);
                    }
                    _ => s.push(self.bump()),
                }
            }
            Tok::Str(s)
        } else if c == b'\'' {
            self.bump();
            let ch = if self.peek(0) == b'\\' {
                let p = self.pos();
                self.bump();
                self.escape(p)?
            } else {
                self.bump()
            };
            if self.peek(0) != b'\'' {
                return Err(self.err(pos, "unterminated char16 literal"));
            }
            self.bump();
            Tok::Char(ch)
        } else if c == b'#' {
            self.bump();
            let b = self.i;
            while self.peek(0).is_ascii_alphabetic() {
                self.bump();
            }
            if !self.text[b..self.i].eq_ignore_ascii_case("pragma") {
                return Err(self.err(pos, "expected #pragma"));
            }
            Tok::Pragma
        } else if b"{}[]();:,=".contains(&c) {
            Tok::Punct(self.bump())
        } else {
            let ch = self.bump();
            return Err(self.err(pos, format!("unexpected character {ch:?}")));
        };
        Ok(Token { tok, pos })
    }
}

/// Splits MOF source into tokens, ending with `Tok::Eof`.
pub fn tokenize(text: &str, file: &str) -> Result<Vec<Token>, MofError> {
    let mut lx = Lexer {
        src: text.as_bytes(),
        text,
        i: 0,
        line: 1,
        col: 1,
        file,
    };
    let mut out = Vec::new();
    loop {
        let t = lx.next()?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s, "t.mof")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks(
                r#"0x1F 101b -5 017 1.5e-3 -0.5 'a' '\n' "a\"b\\c\x41" $x // c
            /* multi
               line */ #pragma"#
            ),
            vec![
                Tok::Int(31),
                Tok::Int(5),
                Tok::Int(-5),
                Tok::Int(15),
                Tok::Real(1.5e-3),
                Tok::Real(-0.5),
                Tok::Char('a'),
                Tok::Char('\n'),
                Tok::Str("a\"b\\cA".into()),
                Tok::Alias("x".into()),
                Tok::Pragma,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn positions_and_errors() {
        let t = tokenize("class\n  Foo", "f.mof").unwrap();
        assert_eq!(t[1].pos, Pos { line: 2, col: 3 });
        let e = tokenize("\n \"abc", "f.mof").unwrap_err();
        assert_eq!(e.to_string(), "f.mof:2:2: unterminated string literal");
        assert!(tokenize("/* x", "f.mof").is_err());
        assert!(tokenize("@", "f.mof").is_err());
    }
}
