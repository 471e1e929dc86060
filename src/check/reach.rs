//! The checker's own limits, told apart from the server's faults.
//!
//! A machine without an IPv6 route (GitHub-hosted runners have none) cannot contact the IPv6
//! endpoints of a dual-stack domain: every connect fails locally, "Network is unreachable",
//! before a packet leaves. That says nothing about the server. Graded as the server's
//! `unreachable`, it made every dual-stack domain checked from such a runner inconclusive,
//! though its IPv4 endpoints passed. So such an endpoint is `not-checked`
//! ([`ErrorKind::NotChecked`]), never graded, and the report's coverage says what could not be
//! seen (`crate::check::coverage`). An endpoint that is reachable by family but does not answer
//! stays the server's: unreachable or timeout, as before.
//!
//! How it is told, without sending anything: a UDP socket `connect()`ed to the endpoint's own
//! address. For UDP, connect only looks up a route and a source address: it fails with
//! ENETUNREACH (no route) or EADDRNOTAVAIL (no source address of that family), and no packet
//! leaves, whatever it answers. The lookup is made for each address checked rather than for a
//! fixed public one: a machine whose only IPv4 route is loopback (a test namespace) or a VPN
//! reaches some addresses of a family and not others, and the truthful answer is the one for
//! the address at hand. Answers are cached for the process: a sweep asks once per address, and
//! every check of a run sees the same machine.
//!
//! A TCP connect may still fail locally (the route went away after the lookup, a firewall
//! rule): EADDRNOTAVAIL always means this machine has no source address for it, so it counts
//! as the checker's; ENETUNREACH may also be a router's ICMP answer (the network's, not ours),
//! so it counts as the checker's only when a fresh route lookup fails too.
//!
//! `--ip-family` (`CheckOptions::ip_family`) leaves the other family out on purpose: those
//! endpoints are not checked either, with that reason.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Mutex, OnceLock};

use crate::check::net::ConnectError;
use crate::report::{Endpoint, ErrorKind, IpFamily};

/// Most addresses whose answer is cached; beyond it lookups are made each time (they are one
/// system call each).
const CACHE_CAP: usize = 4096;

/// EAFNOSUPPORT: the kernel has no such address family at all (IPv6 disabled).
#[cfg(target_os = "linux")]
const EAFNOSUPPORT: i32 = 97;
#[cfg(not(target_os = "linux"))]
const EAFNOSUPPORT: i32 = 47;

/// Looks up a route to `addr` without sending anything: `Ok` when this machine could send
/// there. Not cached.
pub(crate) fn route_lookup(addr: SocketAddr) -> io::Result<()> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(addr)
}

/// Whether a failed route lookup says this machine cannot send there: no route (or an
/// unreachable, prohibit or blackhole one), no source address, no such family. Other failures
/// (out of file descriptors...) say nothing about routes: the connect will tell.
fn says_no_route(e: &io::Error) -> bool {
    use io::ErrorKind::{
        AddrNotAvailable, HostUnreachable, InvalidInput, NetworkDown, NetworkUnreachable,
        PermissionDenied,
    };
    matches!(
        e.kind(),
        NetworkUnreachable
            | HostUnreachable
            | NetworkDown
            | AddrNotAvailable
            | PermissionDenied
            | InvalidInput
    ) || e.raw_os_error() == Some(EAFNOSUPPORT)
}

/// Why this machine cannot contact `addr` at all, or `None` when it has a route there.
/// Cached for the process, per address.
pub(crate) fn no_route(addr: SocketAddr) -> Option<String> {
    static ROUTES: OnceLock<Mutex<HashMap<IpAddr, Option<String>>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(|| Mutex::new(HashMap::new()));
    let lock = || match routes.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(known) = lock().get(&addr.ip()) {
        return known.clone();
    }
    let answer = match route_lookup(addr) {
        Ok(()) => None,
        Err(e) if says_no_route(&e) => Some(no_route_reason(addr.ip(), &e)),
        // Not an answer about routes: not cached, and the connect decides.
        Err(_) => return None,
    };
    let mut routes = lock();
    if routes.len() < CACHE_CAP {
        routes.insert(addr.ip(), answer.clone());
    }
    answer
}

/// The reason an endpoint of `ip` was not checked, from the local error `e`.
fn no_route_reason(ip: IpAddr, e: &io::Error) -> String {
    let family = IpFamily::of(ip);
    match e.kind() {
        io::ErrorKind::NetworkUnreachable => format!("this checker has no {family} route"),
        io::ErrorKind::AddrNotAvailable => {
            format!("this checker has no {family} address to connect from")
        }
        _ if e.raw_os_error() == Some(EAFNOSUPPORT) => {
            format!("this checker has no {family} support")
        }
        // An unreachable or prohibit route, a firewall rule: still this machine's.
        kind => format!("this checker has no {family} route ({kind})"),
    }
}

/// The reason an endpoint of `ip` is left out by `--ip-family`, if it is.
fn excluded(ip: IpAddr, only: Option<IpFamily>) -> Option<String> {
    match only {
        Some(family) if IpFamily::of(ip) != family => {
            Some(format!("excluded by --ip-family {}", family.as_str()))
        }
        _ => None,
    }
}

/// Marks the planned endpoints this checker must not or cannot contact as not checked, so
/// that none of them is ever connected to: those of a family `only` excludes (also when the
/// address policy refused them already: the user asked not to look there at all), then those
/// to which this machine has no route. `planned` pairs each endpoint with the address to
/// contact, `None` when it is not to be contacted.
pub(crate) fn mark_not_checked(
    planned: &mut [(Endpoint, Option<SocketAddr>)],
    only: Option<IpFamily>,
) {
    for (ep, addr) in planned.iter_mut() {
        let Ok(ip) = ep.address.parse::<IpAddr>() else {
            continue;
        };
        let reason = excluded(ip, only).or_else(|| addr.and_then(no_route));
        if let Some(reason) = reason {
            ep.error = Some(reason);
            ep.error_kind = Some(ErrorKind::NotChecked);
            *addr = None;
        }
    }
}

/// Why a TCP connect that failed is the checker's limit rather than the server's fault, if it
/// is (see the module doc).
pub(crate) fn not_checked_by_connect(e: &ConnectError) -> Option<String> {
    let ConnectError::Io(addr, e) = e else {
        return None;
    };
    match e.kind() {
        io::ErrorKind::AddrNotAvailable => Some(no_route_reason(addr.ip(), e)),
        io::ErrorKind::NetworkUnreachable => route_lookup(*addr)
            .err()
            .filter(says_no_route)
            .map(|_| no_route_reason(addr.ip(), e)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{EndpointSource, Mode, Service};

    fn planned(address: &str, contact: bool) -> (Endpoint, Option<SocketAddr>) {
        let mut ep = Endpoint::planned(
            Service::C2s,
            Mode::Starttls,
            EndpointSource::Srv,
            "xmpp.example.test",
            5222,
        );
        ep.address = address.into();
        let addr = contact.then(|| SocketAddr::new(address.parse().unwrap(), 5222));
        (ep, addr)
    }

    #[test]
    fn loopback_is_routable_and_stays_planned() {
        // Loopback has a route on every machine that runs these tests, even in a namespace.
        assert!(route_lookup("127.0.0.1:5222".parse().unwrap()).is_ok());
        assert_eq!(no_route("127.0.0.1:5222".parse().unwrap()), None);
        let mut eps = vec![planned("127.0.0.1", true)];
        mark_not_checked(&mut eps, None);
        assert_eq!(eps[0].0.error_kind, None);
        assert!(eps[0].1.is_some());
    }

    #[test]
    fn the_other_family_is_excluded_even_when_the_policy_refused_it() {
        let mut eps = vec![
            planned("127.0.0.1", true),
            planned("::1", true),
            planned("fd00::1", false),
            planned("::ffff:127.0.0.1", true),
        ];
        eps[2].0.error_kind = Some(ErrorKind::Policy);
        mark_not_checked(&mut eps, Some(IpFamily::Ipv4));
        let kinds: Vec<_> = eps
            .iter()
            .map(|(ep, a)| (ep.error_kind, a.is_some()))
            .collect();
        assert_eq!(
            kinds,
            [
                (None, true),
                (Some(ErrorKind::NotChecked), false),
                (Some(ErrorKind::NotChecked), false),
                // An IPv4-mapped address goes over IPv4.
                (None, true),
            ]
        );
        assert_eq!(
            eps[1].0.error.as_deref(),
            Some("excluded by --ip-family ipv4")
        );
        let mut eps = vec![planned("127.0.0.1", true)];
        mark_not_checked(&mut eps, Some(IpFamily::Ipv6));
        assert_eq!(eps[0].0.error_kind, Some(ErrorKind::NotChecked));
    }

    #[test]
    fn local_connect_errors_are_the_checkers() {
        let io = |kind| ConnectError::Io("127.0.0.1:5222".parse().unwrap(), io::Error::from(kind));
        let v6 = ConnectError::Io(
            "[2a01:4f8::1]:5222".parse().unwrap(),
            io::Error::from(io::ErrorKind::AddrNotAvailable),
        );
        assert_eq!(
            not_checked_by_connect(&v6).as_deref(),
            Some("this checker has no IPv6 address to connect from")
        );
        // A router's "network unreachable" for an address this machine routes: the network's.
        assert_eq!(
            not_checked_by_connect(&io(io::ErrorKind::NetworkUnreachable)),
            None
        );
        assert_eq!(
            not_checked_by_connect(&io(io::ErrorKind::ConnectionRefused)),
            None
        );
        let timeout = ConnectError::Timeout(
            "127.0.0.1:5222".parse().unwrap(),
            std::time::Duration::from_secs(1),
        );
        assert_eq!(not_checked_by_connect(&timeout), None);
    }

    #[test]
    fn reasons_name_the_family() {
        let e = io::Error::from(io::ErrorKind::NetworkUnreachable);
        assert_eq!(
            no_route_reason("2a01:4f8::1".parse().unwrap(), &e),
            "this checker has no IPv6 route"
        );
        let e = io::Error::from(io::ErrorKind::HostUnreachable);
        assert_eq!(
            no_route_reason("192.0.2.1".parse().unwrap(), &e),
            "this checker has no IPv4 route (host unreachable)"
        );
        let e = io::Error::from_raw_os_error(EAFNOSUPPORT);
        assert!(says_no_route(&e));
        assert_eq!(
            no_route_reason("2a01:4f8::1".parse().unwrap(), &e),
            "this checker has no IPv6 support"
        );
        // Out of file descriptors says nothing about routes.
        assert!(!says_no_route(&io::Error::from(io::ErrorKind::Other)));
        assert!(says_no_route(&io::Error::from(
            io::ErrorKind::NetworkUnreachable
        )));
    }
}
