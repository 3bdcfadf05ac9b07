//! Hardened XML parsing into a small element tree. This is the only code
//! that touches raw request bytes: it enforces the size/depth/attribute
//! limits, rejects DOCTYPE (so no entity declarations can exist), resolves
//! only the five predefined entities and numeric character references, and
//! rejects invalid UTF-8. The CIM layer (`xml_read`) works on the tree.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::xml_read::XmlError;

/// Parser limits; exceeding any is a well-formedness error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum document size in bytes.
    pub max_total: usize,
    /// Maximum element nesting depth.
    pub max_depth: usize,
    /// Maximum size of one element's text content or one attribute value.
    pub max_value: usize,
    /// Maximum number of attributes on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total: 16 * 1024 * 1024,
            max_depth: 64,
            max_value: 4 * 1024 * 1024,
            max_attributes: 16,
        }
    }
}

/// An element: name, attributes in document order, child elements and the
/// concatenated character data directly inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Resolves references in character data or a (normalised) attribute value.
pub fn unescape(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|&i| i <= 12)
            .ok_or_else(|| XmlError::BadReference(after.chars().take(12).collect()))?;
        let name = &after[..semi];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    return Err(XmlError::UnknownEntity(name.to_string()));
                };
                code.filter(|&c| c != 0)
                    .and_then(char::from_u32)
                    .ok_or_else(|| XmlError::BadReference(name.to_string()))?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn start_element(e: &BytesStart<'_>, limits: &Limits) -> Result<Element, XmlError> {
    let name = std::str::from_utf8(e.name().as_ref())
        .map_err(|_| XmlError::InvalidUtf8)?
        .to_string();
    let mut attrs: Vec<(String, String)> = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| XmlError::Syntax(err.to_string()))?;
        if attrs.len() >= limits.max_attributes {
            return Err(XmlError::TooManyAttributes {
                element: name,
                limit: limits.max_attributes,
            });
        }
        if a.value.len() > limits.max_value {
            return Err(XmlError::ValueTooLarge {
                limit: limits.max_value,
            });
        }
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| XmlError::InvalidUtf8)?
            .to_string();
        let raw = std::str::from_utf8(&a.value).map_err(|_| XmlError::InvalidUtf8)?;
        if raw.contains('<') {
            return Err(XmlError::Syntax(format!("'<' in value of attribute {key}")));
        }
        // Attribute-value normalisation (XML 1.0 3.3.3): literal white
        // space becomes a space; referenced white space is kept.
        let normalised = raw.replace(['\t', '\n', '\r'], " ");
        attrs.push((key, unescape(&normalised)?));
    }
    Ok(Element {
        name,
        attrs,
        ..Default::default()
    })
}

/// Parses a complete document into its root element.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if bytes.len() > limits.max_total {
        return Err(XmlError::TooLarge {
            limit: limits.max_total,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::InvalidUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.check_comments = true;
    cfg.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| XmlError::Syntax(format!("at byte {}: {e}", reader.error_position())))?;
        match ev {
            Event::DocType(_) => return Err(XmlError::DoctypeNotAllowed),
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(|e| XmlError::Syntax(e.to_string()))?;
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(XmlError::UnsupportedEncoding(enc));
                    }
                }
            }
            Event::PI(_) | Event::Comment(_) => {}
            Event::Start(e) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                stack.push(start_element(&e, limits)?);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let el = start_element(&e, limits)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Syntax("unmatched end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let raw = std::str::from_utf8(t.as_ref()).map_err(|_| XmlError::InvalidUtf8)?;
                match stack.last_mut() {
                    Some(el) => {
                        if el.text.len() + raw.len() > limits.max_value {
                            return Err(XmlError::ValueTooLarge {
                                limit: limits.max_value,
                            });
                        }
                        el.text.push_str(&unescape(raw)?);
                    }
                    None if raw.trim().is_empty() => {}
                    None => return Err(XmlError::Syntax("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                // We never write CDATA, but it is legal XML, so accept it as text.
                let raw = std::str::from_utf8(c.as_ref()).map_err(|_| XmlError::InvalidUtf8)?;
                let el = stack
                    .last_mut()
                    .ok_or_else(|| XmlError::Syntax("CDATA outside the root element".into()))?;
                if el.text.len() + raw.len() > limits.max_value {
                    return Err(XmlError::ValueTooLarge {
                        limit: limits.max_value,
                    });
                }
                el.text.push_str(raw);
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("unexpected end of document".into()));
    }
    root.ok_or_else(|| XmlError::Syntax("no root element".into()))
}
