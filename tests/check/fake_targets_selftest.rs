//! The fake s2s targets of `tests/support/fake_target.rs` do what they say, seen with raw
//! sockets and a stub responder (the real responder's proofs come with it): a liar answers
//! `valid` without dialing back; an enforcer that ignores cleartext dialback stays silent and
//! closes the idle stream, yet over TLS dials back and answers what the responder said; a lax
//! honest target dials back in cleartext.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;

use crate::support::fake_target::{
    self, Element, Event, FakeOptions, FakeServer, FakeTarget, Item, XmlConn, attr,
};
use crate::support::pki::Pki;

const PROBE: &str = "probe.test";
const GOOD_KEY: &str = "v1-good-key";
const STEP: Duration = Duration::from_secs(5);

/// Opens an s2s stream from `PROBE` to `to`; returns the stream id and the features' text.
async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut XmlConn<S>,
    to: &str,
) -> (String, String) {
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
         xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
         from='{PROBE}' to='{to}' version='1.0'>"
    );
    conn.write(&header).await.unwrap();
    let Item::Header(attrs) = conn.next_item(STEP).await.unwrap() else {
        panic!("no stream header");
    };
    let id = attr(&attrs, "id").expect("a stream id");
    let Item::Element(features) = conn.next_item(STEP).await.unwrap() else {
        panic!("no features");
    };
    assert_eq!(features.name, "stream:features");
    (id, features.text)
}

async fn send_result<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut XmlConn<S>,
    to: &str,
    key: &str,
) {
    let result = format!("<db:result from='{PROBE}' to='{to}'>{key}</db:result>");
    conn.write(&result).await.unwrap();
}

async fn next_element<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut XmlConn<S>) -> Element {
    match conn.next_item(STEP).await {
        Ok(Item::Element(el)) => el,
        other => panic!("expected an element, got {other:?}"),
    }
}

fn events(fake: &FakeServer) -> String {
    format!("{:#?}", fake.events())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_liar_answers_valid_without_dialing_back() {
    let pki = Pki::new();
    let target = "liar.test";
    let cert = pki.leaf(&[target]);
    let fake = fake_target::start(
        FakeTarget::ValidWithoutDialback,
        FakeOptions::new(target, &cert, &pki),
    )
    .await;
    let mut conn = XmlConn::new(TcpStream::connect(fake.addr()).await.unwrap());
    let (id, features) = open(&mut conn, target).await;
    assert_eq!(id.len(), 16);
    assert!(
        features.contains("urn:xmpp:features:dialback"),
        "{features}"
    );
    send_result(&mut conn, target, "made-up").await;
    let answer = next_element(&mut conn).await;
    assert_eq!(answer.name, "db:result");
    assert_eq!(attr(&answer.attrs, "type").as_deref(), Some("valid"));
    assert_eq!(attr(&answer.attrs, "from").as_deref(), Some(target));
    assert_eq!(attr(&answer.attrs, "to").as_deref(), Some(PROBE));
    assert!(!fake.dialed_back(), "{}", events(&fake));
}

/// The stub's record of one `<db:verify/>`: over TLS, its attributes, the key.
type Verifies = Arc<Mutex<Vec<(bool, Vec<(String, String)>, String)>>>;

/// A stub responder for `PROBE`: STARTTLS when given a certificate, and `<db:verify/>` answered
/// `valid` for [`GOOD_KEY`], `invalid` otherwise. Every connection to it is counted.
async fn stub_responder(tls: Option<&crate::support::pki::Cert>) -> (SocketAddr, Verifies) {
    let listener = TcpListener::bind((crate::support::next_loopback_ip(), 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor =
        tls.map(|cert| tokio_rustls::TlsAcceptor::from(fake_target::server_config(cert)));
    let verifies: Verifies = Arc::default();
    let seen = verifies.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let mut conn = XmlConn::new(sock);
                stub_features(&mut conn, acceptor.is_some()).await;
                let Some(acceptor) = acceptor else {
                    return stub_verify(conn, false, seen).await;
                };
                match conn.next_item(STEP).await {
                    Ok(Item::Element(el)) if el.name == "starttls" => {}
                    _ => return,
                }
                conn.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    .await
                    .unwrap();
                let tls = acceptor.accept(conn.into_inner().unwrap()).await.unwrap();
                let mut conn = XmlConn::new(tls);
                stub_features(&mut conn, false).await;
                stub_verify(conn, true, seen).await;
            });
        }
    });
    (addr, verifies)
}

async fn stub_features<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut XmlConn<S>, starttls: bool) {
    let Ok(Item::Header(_)) = conn.next_item(STEP).await else {
        return;
    };
    let tls = if starttls {
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    } else {
        ""
    };
    let reply = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
         xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
         from='{PROBE}' id='stub' version='1.0'><stream:features>{tls}\
         <dialback xmlns='urn:xmpp:features:dialback'/></stream:features>"
    );
    conn.write(&reply).await.unwrap();
}

async fn stub_verify<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: XmlConn<S>,
    secure: bool,
    seen: Verifies,
) {
    while let Ok(Item::Element(el)) = conn.next_item(STEP).await {
        if el.name == "db:result" {
            let get = |k| attr(&el.attrs, k).unwrap_or_default();
            let answer = format!(
                "<db:result type='valid' from='{}' to='{}'/>",
                get("to"),
                get("from")
            );
            conn.write(&answer).await.unwrap();
            continue;
        }
        if el.name != "db:verify" {
            continue;
        }
        let kind = if el.text == GOOD_KEY {
            "valid"
        } else {
            "invalid"
        };
        let get = |k| attr(&el.attrs, k).unwrap_or_default();
        let answer = format!(
            "<db:verify type='{kind}' from='{}' to='{}' id='{}'/>",
            get("to"),
            get("from"),
            get("id")
        );
        seen.lock()
            .unwrap()
            .push((secure, el.attrs.clone(), el.text.clone()));
        conn.write(&answer).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ignoring_cleartext_dialback_is_silence_then_an_idle_close() {
    let pki = Pki::new();
    let target = "quiet.test";
    let cert = pki.leaf(&[target]);
    // A responder is there to be dialed: the fake must still not dial it.
    let (responder, verifies) = stub_responder(None).await;
    let opts = FakeOptions::new(target, &cert, &pki)
        .responder(responder)
        .idle_close(Duration::from_secs(2));
    let fake = fake_target::start(FakeTarget::IgnoresCleartextDialback, opts).await;
    let mut conn = XmlConn::new(TcpStream::connect(fake.addr()).await.unwrap());
    let (_, features) = open(&mut conn, target).await;
    assert!(
        features.contains("urn:ietf:params:xml:ns:xmpp-tls"),
        "{features}"
    );
    assert!(!features.contains("required"), "{features}");
    send_result(&mut conn, target, GOOD_KEY).await;
    let quiet = conn.next_item(Duration::from_secs(1)).await;
    assert!(matches!(&quiet, Err(e) if e.how == "timeout"), "{quiet:?}");
    assert!(matches!(conn.next_item(STEP).await, Ok(Item::End)));
    assert!(matches!(conn.next_item(STEP).await, Err(e) if e.how == "eof"));
    assert!(!fake.dialed_back(), "{}", events(&fake));
    assert!(verifies.lock().unwrap().is_empty());
    let e = fake.events();
    assert!(
        e.iter()
            .any(|e| matches!(e, Event::Ignored { secure: false, .. })),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|e| matches!(e, Event::IdleClosed { .. })),
        "{e:#?}"
    );
}

/// Connects to `fake` as `PROBE`, does STARTTLS (trusting `pki`'s CA, SNI = the target) and
/// opens the stream again: the TLS stream, its id and its features.
async fn over_tls(fake: &FakeServer, pki: &Pki) -> (XmlConn<TlsStream<TcpStream>>, String, String) {
    let target = fake.domain().to_owned();
    let mut conn = XmlConn::new(TcpStream::connect(fake.addr()).await.unwrap());
    open(&mut conn, &target).await;
    conn.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await
        .unwrap();
    assert_eq!(next_element(&mut conn).await.name, "proceed");
    let connector = tokio_rustls::TlsConnector::from(fake_target::client_config(&pki.ca_der()));
    let name = ServerName::try_from(target.clone()).unwrap();
    let tls = connector
        .connect(name, conn.into_inner().unwrap())
        .await
        .unwrap();
    let mut conn = XmlConn::new(tls);
    let (id, features) = open(&mut conn, &target).await;
    (conn, id, features)
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_it_dials_back_and_answers_what_the_responder_said() {
    let pki = Pki::new();
    let target = "strict.test";
    let cert = pki.leaf(&[target]);
    let (responder, verifies) = stub_responder(Some(&pki.leaf(&[PROBE]))).await;
    let opts = FakeOptions::new(target, &cert, &pki)
        .responder(responder)
        .own_result();
    let fake = fake_target::start(FakeTarget::IgnoresCleartextDialback, opts).await;
    let (mut conn, id, features) = over_tls(&fake, &pki).await;
    assert!(!features.contains("xmpp-tls"), "{features}");
    send_result(&mut conn, target, GOOD_KEY).await;
    let answer = next_element(&mut conn).await;
    assert_eq!(
        attr(&answer.attrs, "type").as_deref(),
        Some("valid"),
        "{}",
        events(&fake)
    );
    let seen = verifies.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (secure, attrs, key) = &seen[0];
    assert!(*secure, "the dial-back ran over STARTTLS");
    assert_eq!(key, GOOD_KEY);
    assert_eq!(
        attr(attrs, "id"),
        Some(id),
        "the id of the checker's TLS stream"
    );
    assert_eq!(attr(attrs, "from").as_deref(), Some(target));
    assert_eq!(attr(attrs, "to").as_deref(), Some(PROBE));
    assert!(fake.events().iter().any(|e| matches!(
        e,
        Event::DialedBack { tls: true, answer: Some(a), .. } if a == "valid"
    )));
    assert!(fake.events().iter().any(|e| matches!(
        e,
        Event::OwnResult { answer, tls: true } if answer == "valid"
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lax_target_dials_back_in_cleartext_and_reports_invalid() {
    let pki = Pki::new();
    let target = "lax.test";
    let cert = pki.leaf(&[target]);
    let (responder, verifies) = stub_responder(None).await;
    let opts = FakeOptions::new(target, &cert, &pki).responder(responder);
    let fake = fake_target::start(FakeTarget::DialsBackThenAccepts, opts).await;
    let mut conn = XmlConn::new(TcpStream::connect(fake.addr()).await.unwrap());
    open(&mut conn, target).await;
    send_result(&mut conn, target, "a-forged-key").await;
    let answer = next_element(&mut conn).await;
    assert_eq!(
        attr(&answer.attrs, "type").as_deref(),
        Some("invalid"),
        "{}",
        events(&fake)
    );
    let seen = verifies.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(!seen[0].0, "the stub offered no TLS");
}

#[tokio::test(flavor = "multi_thread")]
async fn ignoring_both_is_silence_over_tls_too() {
    let pki = Pki::new();
    let target = "deaf.test";
    let cert = pki.leaf(&[target]);
    let (responder, verifies) = stub_responder(Some(&pki.leaf(&[PROBE]))).await;
    let opts = FakeOptions::new(target, &cert, &pki)
        .responder(responder)
        .idle_close(Duration::from_secs(2));
    let fake = fake_target::start(FakeTarget::IgnoresBoth, opts).await;
    let (mut conn, _, _) = over_tls(&fake, &pki).await;
    send_result(&mut conn, target, GOOD_KEY).await;
    let quiet = conn.next_item(Duration::from_secs(1)).await;
    assert!(matches!(&quiet, Err(e) if e.how == "timeout"), "{quiet:?}");
    assert!(matches!(conn.next_item(STEP).await, Ok(Item::End)));
    assert!(!fake.dialed_back(), "{}", events(&fake));
    assert!(verifies.lock().unwrap().is_empty());
    let e = fake.events();
    assert!(
        e.iter()
            .any(|e| matches!(e, Event::Ignored { secure: true, .. })),
        "{e:#?}"
    );
}

/// The deployment example (docs/responder.md quotes it) is a configuration the responder
/// accepts, and its `[limits]` are the defaults it claims to be.
#[test]
fn the_example_responder_configuration_parses_with_the_default_limits() {
    use xmpp_manifesto::check::responder::ResponderConfig;
    use xmpp_manifesto::check::responder::config::Limits;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/responder/responder.example.toml");
    let config = ResponderConfig::load(&path).unwrap();
    assert_eq!(config.domain, "probe.example.org");
    assert_eq!(config.listen.len(), 2);
    assert_eq!(
        format!("{:?}", config.limits),
        format!("{:?}", Limits::default())
    );
}
