//! One XMPP stream over any byte transport: headers, features, STARTTLS, stream errors.
//! Every read and write is bounded in time and bytes.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use crate::check::xml::{
    Element, Limits, NS_STREAMS, StreamEvent, StreamOpen, XmlError, XmlStream,
};
use crate::report::{Features, Service, StreamHeader};

pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
pub const NS_DIALBACK: &str = "jabber:server:dialback";
pub const NS_DIALBACK_FEATURE: &str = "urn:xmpp:features:dialback";
pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";
pub const NS_CHANNEL_BINDING: &str = "urn:xmpp:sasl-cb:0";

#[derive(Debug, thiserror::Error)]
pub enum XmppError {
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    #[error("connection closed by the server while waiting for {0}")]
    Eof(&'static str),
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("stream error <{condition}/>{}", text.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    StreamError {
        condition: String,
        text: Option<String>,
    },
    #[error("the server closed the stream")]
    StreamClosed,
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl XmppError {
    /// Truncates and sanitises peer-controlled text for inclusion in messages.
    pub fn short(s: &str) -> String {
        let cleaned: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        if s.chars().count() > 200 {
            format!("{cleaned}…")
        } else {
            cleaned
        }
    }
}

/// What to put in our stream header.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    pub service: Service,
    pub to: &'a str,
    /// Only for s2s.
    pub from: Option<&'a str>,
}

impl Header<'_> {
    pub fn render(&self) -> String {
        match self.service {
            Service::C2s => format!(
                "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}' to='{}' version='1.0'>",
                escape_attr(self.to)
            ),
            Service::S2s => format!(
                "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='{NS_DIALBACK}' xmlns:stream='{NS_STREAMS}' to='{}' from='{}' version='1.0'>",
                escape_attr(self.to),
                escape_attr(self.from.unwrap_or_default())
            ),
        }
    }
}

pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// An XMPP stream on transport `S`.
pub struct XmppStream<S> {
    io: S,
    reader: XmlStream,
    limits: Limits,
    step_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> XmppStream<S> {
    pub fn new(io: S, step_timeout: Duration, limits: Limits) -> Self {
        XmppStream {
            io,
            reader: XmlStream::new(limits),
            limits,
            step_timeout,
        }
    }

    pub async fn send(&mut self, data: &str) -> Result<(), XmppError> {
        let write = async {
            self.io.write_all(data.as_bytes()).await?;
            self.io.flush().await
        };
        timeout(self.step_timeout, write).await.map_err(|_| {
            XmppError::Timeout(self.step_timeout, "the server to accept our data")
        })??;
        Ok(())
    }

    /// The next stream event within the step timeout.
    pub async fn next(&mut self, what: &'static str) -> Result<StreamEvent, XmppError> {
        self.next_within(self.step_timeout, what).await
    }

    /// The next stream event within `wait` (one deadline for the whole event, however many
    /// reads it takes, so a slow-drip peer cannot stretch it).
    pub async fn next_within(
        &mut self,
        wait: Duration,
        what: &'static str,
    ) -> Result<StreamEvent, XmppError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(event) = self.reader.next_event()? {
                return Ok(event);
            }
            let n = tokio::time::timeout_at(deadline, self.io.read(&mut chunk))
                .await
                .map_err(|_| XmppError::Timeout(wait, what))??;
            if n == 0 {
                return Err(XmppError::Eof(what));
            }
            self.reader.push(&chunk[..n])?;
        }
    }

    /// Reads the next top-level element; a stream error or close becomes an error.
    pub async fn next_element(&mut self, what: &'static str) -> Result<Element, XmppError> {
        match self.next(what).await? {
            StreamEvent::Element(e, _) => check_stream_error(e),
            StreamEvent::Close => Err(XmppError::StreamClosed),
            StreamEvent::Open(_) => Err(XmppError::Protocol("a second stream header".into())),
        }
    }

    /// Sends our header and reads the peer's header and its features.
    pub async fn open(
        &mut self,
        header: &Header<'_>,
    ) -> Result<(StreamHeader, Element), XmppError> {
        self.send(&header.render()).await?;
        let open = match self.next("the stream header").await? {
            StreamEvent::Open(open) => open,
            StreamEvent::Element(e, _) => {
                check_stream_error(e)?;
                return Err(XmppError::Protocol(
                    "an element before the stream header".into(),
                ));
            }
            StreamEvent::Close => return Err(XmppError::StreamClosed),
        };
        let stream = stream_header(&open);
        let features = self.next_element("the stream features").await?;
        if !features.is(NS_STREAMS, "features") {
            return Err(XmppError::Protocol(format!(
                "expected <stream:features/>, got <{}/>",
                XmppError::short(&features.name)
            )));
        }
        self.reader.reset_budget();
        Ok((stream, features))
    }

    /// After a `<proceed/>`: the transport, provided the server sent nothing more. Bytes
    /// after `<proceed/>` would have to be TLS, and feeding them to TLS from a buffer would hide
    /// a server (or an attacker) that injects data before the handshake.
    pub fn into_transport(self) -> Result<S, XmppError> {
        if !self.reader.pending().is_empty() {
            return Err(XmppError::Protocol(format!(
                "{} unexpected bytes after <proceed/>",
                self.reader.pending().len()
            )));
        }
        Ok(self.io)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Best effort: a polite close, without waiting.
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_millis(200), async {
            let _ = self.io.write_all(b"</stream:stream>").await;
            let _ = self.io.shutdown().await;
        })
        .await;
    }
}

/// A stream error element becomes an error; anything else passes through.
pub fn check_stream_error(e: Element) -> Result<Element, XmppError> {
    if e.is(NS_STREAMS, "error") {
        return Err(stream_error(&e));
    }
    Ok(e)
}

pub fn stream_error(e: &Element) -> XmppError {
    let condition = e
        .children
        .iter()
        .find(|c| c.ns == NS_STREAM_ERRORS && c.name != "text")
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "undefined-condition".into());
    let text = e
        .child(NS_STREAM_ERRORS, "text")
        .map(|t| XmppError::short(&t.text));
    XmppError::StreamError {
        condition: XmppError::short(&condition),
        text,
    }
}

pub fn stream_header(open: &StreamOpen) -> StreamHeader {
    let get = |k: &str| open.attr(k).map(XmppError::short);
    StreamHeader {
        from: get("from"),
        id: get("id"),
        version: get("version"),
        lang: get("xml:lang"),
    }
}

/// Reads `<stream:features/>` into the report's model.
pub fn features(e: &Element) -> Features {
    let mut f = Features::default();
    for child in &e.children {
        f.elements.push(XmppError::short(&child.qualified()));
        match (child.ns.as_str(), child.name.as_str()) {
            (NS_TLS, "starttls") => {
                f.starttls = true;
                f.starttls_required = child.has_child(NS_TLS, "required");
            }
            (NS_SASL, "mechanisms") => {
                f.sasl_mechanisms = child
                    .children
                    .iter()
                    .filter(|m| m.is(NS_SASL, "mechanism"))
                    .map(|m| XmppError::short(m.text.trim()))
                    .take(32)
                    .collect();
            }
            (NS_CHANNEL_BINDING, "sasl-channel-binding") => {
                f.channel_binding = child
                    .children
                    .iter()
                    .filter_map(|c| c.attr("type"))
                    .map(XmppError::short)
                    .take(16)
                    .collect();
            }
            (NS_DIALBACK_FEATURE, "dialback") => f.dialback = true,
            (NS_CAPS, "c") => f.caps_node = child.attr("node").map(XmppError::short),
            _ => {}
        }
    }
    f.elements.truncate(64);
    f
}

impl Features {
    /// STARTTLS is mandatory-to-negotiate: `<required/>`, or STARTTLS as the only feature
    /// (RFC 6120 §5.3.1).
    pub fn tls_required_advertised(&self) -> bool {
        self.starttls && (self.starttls_required || self.elements.len() == 1)
    }
}
