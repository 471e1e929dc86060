//! Which addresses a check may connect to without `--allow-private`: a pure function of the
//! address, so that every range can be tested as a table without sending a packet.
//!
//! Threat model: the bot and the sweep run on shared CI runners and the check service runs on a
//! public host. The names they check come from pull requests and web forms, so DNS answers are
//! attacker-controlled: a domain may point at `127.0.0.1`, at the runner's cloud metadata
//! service, or at an IPv6 form of either. The first bytes of whatever answers land in a public
//! comment. So only globally reachable unicast addresses are contacted:
//!
//! - IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates): every
//!   block whose "Globally Reachable" is not `True` is refused.
//! - IPv6 outside global unicast `2000::/3` is refused whole (loopback, unspecified, ULA,
//!   link- and site-local, multicast, discard-only `100::/64`, SRv6 SIDs `5f00::/16`, the
//!   IPv4-compatible and IPv4-translated forms...).
//! - Addresses that embed an IPv4 address are judged by the embedded one: IPv4-mapped
//!   (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`, RFC 6052; on a runner behind NAT64 it reaches
//!   the embedded IPv4), 6to4 (`2002::/16`, RFC 3056) and Teredo (`2001::/32`, RFC 4380: its
//!   server and its client address). The local-use NAT64 prefix `64:ff9b:1::/48` (RFC 8215)
//!   is never globally reachable and is refused whole.
//! - Cloud host addresses that are nominally public but answer only inside a provider's
//!   network: `168.63.129.16` (Azure's host address: DNS, DHCP, health probes and the WireServer,
//!   reachable from GitHub's hosted runners) is refused. The metadata services of the other
//!   clouds live in ranges refused above (`169.254.169.254`, `100.100.100.200`,
//!   `fd00:ec2::254`, `192.0.0.192`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused (for the error message and the evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPublic {
    pub reason: &'static str,
}

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason)
    }
}

/// Whether `ip` is a public, globally reachable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    judge(ip).is_ok()
}

/// Judges an address: `Ok` when a check may connect to it without `--allow-private`.
pub fn judge(ip: IpAddr) -> Result<(), NotPublic> {
    match ip {
        IpAddr::V4(v4) => judge_v4(v4),
        IpAddr::V6(v6) => judge_v6(v6),
    }
}

fn refuse(reason: &'static str) -> Result<(), NotPublic> {
    Err(NotPublic { reason })
}

/// IPv4 blocks that are not globally reachable: (network, prefix length, name).
const V4_REFUSED: [(u32, u8, &str); 20] = [
    (0x0000_0000, 8, "\"this network\" (0.0.0.0/8)"),
    (0x0a00_0000, 8, "private-use (10.0.0.0/8)"),
    (
        0x6440_0000,
        10,
        "shared address space, CGNAT (100.64.0.0/10)",
    ),
    (0x7f00_0000, 8, "loopback (127.0.0.0/8)"),
    (0xa9fe_0000, 16, "link-local (169.254.0.0/16)"),
    (0xac10_0000, 12, "private-use (172.16.0.0/12)"),
    (0xc000_0000, 24, "IETF protocol assignments (192.0.0.0/24)"),
    (0xc000_0200, 24, "documentation (192.0.2.0/24)"),
    (
        0xc058_6300,
        24,
        "deprecated 6to4 relay anycast (192.88.99.0/24)",
    ),
    (0xc0a8_0000, 16, "private-use (192.168.0.0/16)"),
    (0xc612_0000, 15, "benchmarking (198.18.0.0/15)"),
    (0xc633_6400, 24, "documentation (198.51.100.0/24)"),
    (0xcb00_7100, 24, "documentation (203.0.113.0/24)"),
    (0xe000_0000, 4, "multicast (224.0.0.0/4)"),
    (0xf000_0000, 4, "reserved (240.0.0.0/4)"),
    (0xffff_ffff, 32, "limited broadcast (255.255.255.255)"),
    (
        0xa83f_8110,
        32,
        "a cloud host address (168.63.129.16, Azure)",
    ),
    // Further cloud-internal addresses inside public-looking space would go here.
    (0xa9fe_a9fe, 32, "cloud metadata service (169.254.169.254)"),
    (0x6464_64c8, 32, "cloud metadata service (100.100.100.200)"),
    (0xc000_00c0, 32, "cloud metadata service (192.0.0.192)"),
];

fn judge_v4(ip: Ipv4Addr) -> Result<(), NotPublic> {
    let bits = u32::from(ip);
    for (net, len, name) in V4_REFUSED {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        if bits & mask == net {
            return refuse(name);
        }
    }
    Ok(())
}

fn in_v6(ip: Ipv6Addr, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    u128::from(ip) & mask == net
}

fn v4_at(bits: u128, shift: u32) -> Ipv4Addr {
    // Truncation is the point: the 32 bits at `shift`.
    Ipv4Addr::from(((bits >> shift) & 0xffff_ffff) as u32)
}

fn embedded(inner: Result<(), NotPublic>, what: &'static str) -> Result<(), NotPublic> {
    match inner {
        Ok(()) => Ok(()),
        Err(_) => refuse(what),
    }
}

fn judge_v6(ip: Ipv6Addr) -> Result<(), NotPublic> {
    let bits = u128::from(ip);
    // IPv4-mapped ::ffff:a.b.c.d: the connection goes to the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return embedded(
            judge_v4(v4),
            "IPv4-mapped form of a non-public IPv4 address",
        );
    }
    if in_v6(ip, 0x0064_ff9b_0001 << 80, 48) {
        return refuse("local-use NAT64 (64:ff9b:1::/48)");
    }
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        return embedded(
            judge_v4(v4_at(bits, 0)),
            "NAT64 form (64:ff9b::/96) of a non-public IPv4 address",
        );
    }
    if !in_v6(ip, 0x2 << 124, 3) {
        return refuse("outside IPv6 global unicast (2000::/3)");
    }
    judge_global_v6(ip, bits)
}

/// Inside `2000::/3`: the special-purpose blocks and the IPv4-embedding ones.
fn judge_global_v6(ip: Ipv6Addr, bits: u128) -> Result<(), NotPublic> {
    if in_v6(ip, 0x2002 << 112, 16) {
        return embedded(
            judge_v4(v4_at(bits, 80)),
            "6to4 form (2002::/16) of a non-public IPv4 address",
        );
    }
    if in_v6(ip, 0x2001_0000 << 96, 32) {
        // Teredo: server IPv4 in bits 32..64, client IPv4 obfuscated (inverted) in the last 32.
        let server = judge_v4(v4_at(bits, 64));
        let client = judge_v4(Ipv4Addr::from(!((bits & 0xffff_ffff) as u32)));
        return embedded(
            server.and(client),
            "Teredo address (2001::/32) embedding a non-public IPv4 address",
        );
    }
    if in_v6(ip, 0x2001_0db8 << 96, 32) {
        return refuse("documentation (2001:db8::/32)");
    }
    if in_v6(ip, 0x3fff << 112, 20) {
        return refuse("documentation (3fff::/20)");
    }
    if in_v6(ip, 0x2001 << 112, 23) && !ietf_global_exception(ip) {
        return refuse("IETF protocol assignments (2001::/23)");
    }
    Ok(())
}

/// The blocks of `2001::/23` that IANA marks globally reachable: the anycast services
/// `2001:1::1/128`, `2001:1::2/128` and `2001:1::3/128`, AMT `2001:3::/32` and AS112-v6
/// `2001:4:112::/48`.
fn ietf_global_exception(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    (1..=3).any(|n| bits == (0x2001_0001 << 96) | n)
        || in_v6(ip, 0x2001_0003 << 96, 32)
        || in_v6(ip, 0x2001_0004_0112 << 80, 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every special-purpose range, both families, with one address at each end where the
    /// range is wider than one address.
    const REFUSED: &[&str] = &[
        // IPv4 special-purpose registry
        "0.0.0.0",
        "0.255.255.255",
        "10.0.0.0",
        "10.255.255.255",
        "100.64.0.0",
        "100.127.255.255",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.0",
        "192.0.0.255",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.0.1",
        "192.168.255.255",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.255",
        "240.0.0.1",
        "255.255.255.254",
        "255.255.255.255",
        // cloud hosts
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        // IPv6 outside 2000::/3
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:0:7f00:1",
        "100::1",
        "100:0:0:1::1",
        "5f00::1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        // IPv4-mapped
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:168.63.129.16",
        // NAT64
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "64:ff9b:1:ffff::808:808",
        // 6to4
        "2002:a9fe:a9fe::1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        // Teredo: server 65.54.227.120, client 127.0.0.1 (inverted: 80ff:fffe)
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        // Teredo: server 10.0.0.1
        "2001:0:a00:1::1",
        // IETF protocol assignments and documentation
        "2001:2::1",
        "2001:10::1",
        "2001:20::1",
        "2001:1::4",
        "2001:1ff::1",
        "2001:db8::1",
        "2001:db8:ffff::1",
        "3fff::1",
        "3fff:fff::1",
    ];

    const ALLOWED: &[&str] = &[
        "1.1.1.1",
        "8.8.8.8",
        "9.9.9.9",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.31.196.1",
        "192.52.193.1",
        "192.175.48.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "168.63.129.17",
        "2a01:4f8::1",
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "2620:4f:8000::1",
        "::ffff:1.1.1.1",
        "64:ff9b::808:808",
        "2002:808:808::1",
        // Teredo with public server and client (client 8.8.8.8 inverted: f7f7:f7f7)
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        "2001:1::1",
        "2001:1::3",
        "2001:3::1",
        "2001:4:112::1",
        "2001:200::1",
        "3fff:1000::1",
        "2c0f:f248::1",
    ];

    #[test]
    fn refuses_every_special_purpose_range() {
        for a in REFUSED {
            let ip: IpAddr = a.parse().unwrap();
            assert!(judge(ip).is_err(), "{a} must be refused");
        }
    }

    #[test]
    fn allows_global_unicast() {
        for a in ALLOWED {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(judge(ip), Ok(()), "{a} must be allowed");
        }
    }

    #[test]
    fn reasons_name_the_range() {
        let r = judge("64:ff9b::7f00:1".parse().unwrap()).unwrap_err();
        assert!(r.reason.contains("NAT64"), "{r}");
        let r = judge("168.63.129.16".parse().unwrap()).unwrap_err();
        assert!(r.reason.contains("Azure"), "{r}");
    }
}
