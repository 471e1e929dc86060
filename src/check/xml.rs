//! Restricted XML for XMPP streams (RFC 6120 §11), fed incrementally from untrusted bytes.
//!
//! A small framing scanner finds where the stream header and each top-level element end (so
//! nothing is parsed before it is complete and no byte past it is consumed); quick-xml then
//! parses each complete unit, in the namespace context of the stream header. DTDs, comments,
//! processing instructions and unknown entities are refused; bytes, depth and attributes are
//! capped.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";

/// Caps that keep a hostile peer from costing more than a bounded amount of memory and CPU.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes the peer may send within one phase (until [`XmlStream::reset_budget`]).
    pub phase_bytes: usize,
    /// Element nesting below the stream element.
    pub depth: usize,
    /// Attributes on one element.
    pub attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            phase_bytes: 64 * 1024,
            depth: 16,
            attributes: 32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the peer sent more than {0} bytes in one phase")]
    TooLarge(usize),
    #[error("elements nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("more than {0} attributes on one element")]
    TooManyAttributes(usize),
    #[error("restricted XML: {0} is not allowed in an XMPP stream")]
    Restricted(&'static str),
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("expected a stream header, got {0}")]
    NotAStream(String),
}

/// A parsed element with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: String,
    pub name: String,
    /// Attributes by qualified name as written (`type`, `xml:lang`), values unescaped.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn has_child(&self, ns: &str, name: &str) -> bool {
        self.child(ns, name).is_some()
    }

    /// `{ns}name`, as evidence and feature lists show elements.
    pub fn qualified(&self) -> String {
        format!("{{{}}}{}", self.ns, self.name)
    }
}

/// The attributes of the peer's `<stream:stream>` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOpen {
    /// The default namespace (`jabber:client` or `jabber:server`).
    pub default_ns: Option<String>,
    pub attrs: Vec<(String, String)>,
}

impl StreamOpen {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Open(StreamOpen),
    /// A complete top-level element, with the raw bytes it came from (lossy, for evidence).
    Element(Element, String),
    Close,
}

/// Incremental reader of one XML stream (one per stream: a restart needs a new one).
#[derive(Debug)]
pub struct XmlStream {
    buf: Vec<u8>,
    limits: Limits,
    received_in_phase: usize,
    /// The raw stream header tag, which gives later elements their namespace context.
    header: Option<Vec<u8>>,
    closed: bool,
}

impl XmlStream {
    pub fn new(limits: Limits) -> Self {
        XmlStream {
            buf: Vec::new(),
            limits,
            received_in_phase: 0,
            header: None,
            closed: false,
        }
    }

    /// Adds bytes read from the peer.
    pub fn push(&mut self, data: &[u8]) -> Result<(), XmlError> {
        self.received_in_phase = self.received_in_phase.saturating_add(data.len());
        if self.received_in_phase > self.limits.phase_bytes {
            return Err(XmlError::TooLarge(self.limits.phase_bytes));
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Starts a new byte budget (e.g. after the features arrived and a probe is sent).
    pub fn reset_budget(&mut self) {
        self.received_in_phase = self.buf.len();
    }

    /// Bytes received but not yet consumed by an event.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The next complete event, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        if self.closed {
            return Ok(None);
        }
        let start = skip_whitespace(&self.buf);
        if start == self.buf.len() {
            self.buf.clear();
            return Ok(None);
        }
        if self.header.is_none() {
            return self.next_header(start);
        }
        let rest = &self.buf[start..];
        if rest[0] != b'<' {
            return Err(XmlError::Malformed(
                "text outside of any element at stream level".into(),
            ));
        }
        match frame_element(rest, self.limits.depth)? {
            Frame::Incomplete => Ok(None),
            Frame::Close(len) => {
                self.consume(start + len);
                self.closed = true;
                Ok(Some(StreamEvent::Close))
            }
            Frame::Element(len) => {
                let raw = rest[..len].to_vec();
                self.consume(start + len);
                let header = self.header.as_deref().unwrap_or_default();
                let element = parse_element(header, &raw, &self.limits)?;
                Ok(Some(StreamEvent::Element(
                    element,
                    String::from_utf8_lossy(&raw).into_owned(),
                )))
            }
        }
    }

    fn next_header(&mut self, start: usize) -> Result<Option<StreamEvent>, XmlError> {
        let rest = &self.buf[start..];
        if rest.starts_with(b"<?") {
            if rest.len() < 6 {
                return Ok(None);
            }
            if !rest.starts_with(b"<?xml") || !rest[5].is_ascii_whitespace() {
                return Err(XmlError::Restricted("a processing instruction"));
            }
            return match find_subslice(rest, b"?>") {
                Some(end) => {
                    self.consume(start + end + 2);
                    self.next_event()
                }
                None => Ok(None),
            };
        }
        if rest.starts_with(b"<!") {
            return Err(restricted_markup(rest));
        }
        if !rest.starts_with(b"<") || rest.starts_with(b"</") {
            return Err(XmlError::NotAStream(snippet(rest)));
        }
        let Some(end) = tag_end(rest) else {
            return Ok(None);
        };
        let tag = &rest[..end];
        if tag.ends_with(b"/>") {
            return Err(XmlError::NotAStream(snippet(tag)));
        }
        let open = parse_stream_open(tag, &self.limits)?;
        self.header = Some(tag.to_vec());
        self.consume(start + end);
        Ok(Some(StreamEvent::Open(open)))
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }
}

enum Frame {
    Incomplete,
    Element(usize),
    Close(usize),
}

fn skip_whitespace(buf: &[u8]) -> usize {
    buf.iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(buf.len())
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn snippet(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(80)];
    String::from_utf8_lossy(cut).into_owned()
}

fn restricted_markup(rest: &[u8]) -> XmlError {
    if rest.starts_with(b"<!--") {
        XmlError::Restricted("a comment")
    } else if rest.starts_with(b"<![CDATA[") {
        XmlError::Restricted("a CDATA section")
    } else {
        XmlError::Restricted("a document type declaration")
    }
}

/// Index just past the `>` that ends the tag starting at `buf[0] == b'<'`, quote-aware.
fn tag_end(buf: &[u8]) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &b) in buf.iter().enumerate().skip(1) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i + 1),
            None => {}
        }
    }
    None
}

/// Finds the end of the top-level element (or the stream close tag) at the start of `buf`.
fn frame_element(buf: &[u8], max_depth: usize) -> Result<Frame, XmlError> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while i < buf.len() {
        if buf[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &buf[i..];
        if rest.len() < 2 {
            return Ok(Frame::Incomplete);
        }
        match rest[1] {
            b'!' => return Err(restricted_markup(rest)),
            b'?' => return Err(XmlError::Restricted("a processing instruction")),
            _ => {}
        }
        let Some(end) = tag_end(rest) else {
            return Ok(Frame::Incomplete);
        };
        let tag = &rest[..end];
        if tag.starts_with(b"</") {
            if depth == 0 {
                return Ok(Frame::Close(i + end));
            }
            depth -= 1;
            if depth == 0 {
                return Ok(Frame::Element(i + end));
            }
        } else if tag.ends_with(b"/>") {
            if depth == 0 {
                return Ok(Frame::Element(i + end));
            }
        } else {
            depth += 1;
            if depth > max_depth {
                return Err(XmlError::TooDeep(max_depth));
            }
        }
        i += end;
    }
    Ok(Frame::Incomplete)
}

fn reader_for(bytes: &[u8]) -> NsReader<&[u8]> {
    let mut reader = NsReader::from_reader(bytes);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.trim_text(false);
    reader
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

fn parse_stream_open(tag: &[u8], limits: &Limits) -> Result<StreamOpen, XmlError> {
    let mut reader = reader_for(tag);
    let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
    let Event::Start(start) = event else {
        return Err(XmlError::NotAStream(snippet(tag)));
    };
    if resolved_ns(&ns) != NS_STREAMS || start.local_name().as_ref() != b"stream" {
        return Err(XmlError::NotAStream(snippet(tag)));
    }
    let attrs = attributes(&start, limits)?;
    let default_ns = attrs
        .iter()
        .find(|(k, _)| k == "xmlns")
        .map(|(_, v)| v.clone());
    Ok(StreamOpen { default_ns, attrs })
}

fn resolved_ns(ns: &ResolveResult<'_>) -> String {
    match ns {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        _ => String::new(),
    }
}

fn attributes(start: &BytesStart<'_>, limits: &Limits) -> Result<Vec<(String, String)>, XmlError> {
    let mut out = Vec::new();
    for attr in start.attributes().with_checks(true) {
        let attr = attr.map_err(malformed)?;
        if out.len() >= limits.attributes {
            return Err(XmlError::TooManyAttributes(limits.attributes));
        }
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr.unescape_value().map_err(malformed)?.into_owned();
        out.push((key, value));
    }
    Ok(out)
}

/// Parses one complete element in the namespace context of the stream header.
fn parse_element(header: &[u8], raw: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    let mut doc = Vec::with_capacity(header.len() + raw.len());
    doc.extend_from_slice(header);
    doc.extend_from_slice(raw);
    let mut reader = reader_for(&doc);
    // The header itself.
    match reader.read_resolved_event().map_err(malformed)? {
        (_, Event::Start(_)) => {}
        (_, other) => return Err(XmlError::NotAStream(format!("{other:?}"))),
    }
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(start) => {
                let element = new_element(&ns, &start, limits)?;
                stack.push(element);
                if stack.len() > limits.depth {
                    return Err(XmlError::TooDeep(limits.depth));
                }
            }
            Event::Empty(start) => {
                let element = new_element(&ns, &start, limits)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(malformed("unbalanced end tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                let text = text.decode().map_err(malformed)?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::GeneralRef(reference) => {
                let ch = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(ch) => ch,
                    None => predefined_entity(reference.as_ref())
                        .ok_or(XmlError::Restricted("an entity reference"))?,
                };
                if let Some(current) = stack.last_mut() {
                    current.text.push(ch);
                }
            }
            Event::CData(_) => return Err(XmlError::Restricted("a CDATA section")),
            Event::Comment(_) => return Err(XmlError::Restricted("a comment")),
            Event::PI(_) | Event::Decl(_) => {
                return Err(XmlError::Restricted("a processing instruction"));
            }
            Event::DocType(_) => return Err(XmlError::Restricted("a document type declaration")),
            Event::Eof => return Err(malformed("element ended early")),
        }
    }
}

fn predefined_entity(name: &[u8]) -> Option<char> {
    match name {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"apos" => Some('\''),
        b"quot" => Some('"'),
        _ => None,
    }
}

fn new_element(
    ns: &ResolveResult<'_>,
    start: &BytesStart<'_>,
    limits: &Limits,
) -> Result<Element, XmlError> {
    Ok(Element {
        ns: resolved_ns(ns),
        name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        attrs: attributes(start, limits)?,
        children: Vec::new(),
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='abc' version='1.0'>";

    fn events(input: &[u8]) -> Result<Vec<StreamEvent>, XmlError> {
        let mut s = XmlStream::new(Limits::default());
        s.push(input)?;
        let mut out = Vec::new();
        while let Some(ev) = s.next_event()? {
            out.push(ev);
        }
        Ok(out)
    }

    #[test]
    fn parses_header_and_features() {
        let input = format!(
            "{HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
        );
        let evs = events(input.as_bytes()).unwrap();
        assert_eq!(evs.len(), 2);
        let StreamEvent::Open(open) = &evs[0] else {
            panic!("{evs:?}")
        };
        assert_eq!(open.attr("version"), Some("1.0"));
        assert_eq!(open.default_ns.as_deref(), Some("jabber:client"));
        let StreamEvent::Element(features, _) = &evs[1] else {
            panic!()
        };
        assert!(features.is(NS_STREAMS, "features"));
        let tls = features
            .child("urn:ietf:params:xml:ns:xmpp-tls", "starttls")
            .unwrap();
        assert!(tls.has_child("urn:ietf:params:xml:ns:xmpp-tls", "required"));
        let mechs = features
            .child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms")
            .unwrap();
        assert_eq!(mechs.children[0].text, "SCRAM-SHA-1");
    }

    #[test]
    fn incremental_bytes_one_at_a_time() {
        let input = format!("{HEADER}<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        let mut s = XmlStream::new(Limits::default());
        let mut got = Vec::new();
        for b in input.as_bytes() {
            s.push(&[*b]).unwrap();
            while let Some(ev) = s.next_event().unwrap() {
                got.push(ev);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(s.pending().is_empty());
    }

    #[test]
    fn leftover_bytes_after_element_are_kept() {
        let input =
            format!("{HEADER}<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01");
        let mut s = XmlStream::new(Limits::default());
        s.push(input.as_bytes()).unwrap();
        assert!(matches!(
            s.next_event().unwrap(),
            Some(StreamEvent::Open(_))
        ));
        assert!(matches!(
            s.next_event().unwrap(),
            Some(StreamEvent::Element(..))
        ));
        assert_eq!(s.pending(), b"\x16\x03\x01");
    }

    #[test]
    fn refuses_doctype_comment_pi_entities() {
        let doctype = b"<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY a 'aaaa'>]><stream:stream/>";
        assert!(matches!(events(doctype), Err(XmlError::Restricted(_))));
        let comment = format!("{HEADER}<!-- hi --><a/>");
        assert!(matches!(
            events(comment.as_bytes()),
            Err(XmlError::Restricted(_))
        ));
        let pi = format!("{HEADER}<a><?evil?></a>");
        assert!(matches!(
            events(pi.as_bytes()),
            Err(XmlError::Restricted(_))
        ));
        let entity = format!("{HEADER}<a>&lol;</a>");
        assert!(events(entity.as_bytes()).is_err());
        let ok = format!("{HEADER}<a>&amp;&#65;&#x42;</a>");
        let evs = events(ok.as_bytes()).unwrap();
        let StreamEvent::Element(a, _) = &evs[1] else {
            panic!()
        };
        assert_eq!(a.text, "&AB");
    }

    #[test]
    fn caps_bytes_and_depth() {
        let big = format!("{HEADER}<a>{}</a>", "x".repeat(70_000));
        assert!(matches!(events(big.as_bytes()), Err(XmlError::TooLarge(_))));
        let deep = format!("{HEADER}{}", "<a>".repeat(40));
        assert!(matches!(events(deep.as_bytes()), Err(XmlError::TooDeep(_))));
    }

    #[test]
    fn not_a_stream() {
        assert!(matches!(
            events(b"HTTP/1.1 400 Bad Request\r\n"),
            Err(XmlError::NotAStream(_))
        ));
        assert!(matches!(
            events(b"<html><body>"),
            Err(XmlError::NotAStream(_))
        ));
    }

    #[test]
    fn stream_close() {
        let input = format!("{HEADER}</stream:stream>");
        let evs = events(input.as_bytes()).unwrap();
        assert_eq!(evs.last(), Some(&StreamEvent::Close));
    }

    #[test]
    fn mismatched_end_is_malformed() {
        let input = format!("{HEADER}<a><b></a></b>");
        assert!(events(input.as_bytes()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let mut s = XmlStream::new(Limits::default());
            if s.push(&data).is_ok() {
                for _ in 0..1000 {
                    match s.next_event() {
                        Ok(Some(_)) => continue,
                        _ => break,
                    }
                }
            }
        }

        #[test]
        fn never_panics_after_a_valid_header(data in "[<>/a-z:='\" &;#x0-9!?\\[\\]-]{0,2000}") {
            let mut s = XmlStream::new(Limits::default());
            s.push(HEADER.as_bytes()).unwrap();
            if s.push(data.as_bytes()).is_ok() {
                for _ in 0..1000 {
                    match s.next_event() {
                        Ok(Some(_)) => continue,
                        _ => break,
                    }
                }
            }
        }
    }
}
