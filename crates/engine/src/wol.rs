//! Wake-on-LAN: magic packets for an asset's MAC addresses, sent as the subnet-directed
//! broadcast of its network and as the limited broadcast, on a chosen interface.

use drover_domain::asset::normalize_mac;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The UDP ports magic packets go to (discard and echo: what NICs and tools use).
const PORTS: [u16; 2] = [9, 7];

/// The bytes of a MAC address that `normalize_mac` accepts (`aa:bb:…`, or with `-`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let text = normalize_mac(s)?;
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(text.split(':')) {
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

/// Six 0xFF bytes, then the MAC sixteen times.
pub fn magic_packet(mac: [u8; 6]) -> [u8; 102] {
    let mut p = [0xFFu8; 102];
    for chunk in p[6..].chunks_mut(6) {
        chunk.copy_from_slice(&mac);
    }
    p
}

/// The subnet-directed broadcast for `ip`: the broadcast of a local network that holds it
/// (on `interface` when one is set), else of its /24.
pub fn directed_broadcast(ip: Ipv4Addr, local: &[(String, Ipv4Addr, Ipv4Addr)], interface: Option<&str>) -> Ipv4Addr {
    let mask_of = |m: Ipv4Addr| u32::from(m);
    local
        .iter()
        .filter(|(name, _, _)| interface.is_none_or(|i| i == name))
        .find(|(_, addr, mask)| u32::from(*addr) & mask_of(*mask) == u32::from(ip) & mask_of(*mask))
        .map(|(_, addr, mask)| Ipv4Addr::from(u32::from(*addr) | !mask_of(*mask)))
        .unwrap_or_else(|| Ipv4Addr::from(u32::from(ip) | 0xFF))
}

/// This machine's IPv4 networks: (interface, address, netmask).
fn local_networks() -> Vec<(String, Ipv4Addr, Ipv4Addr)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    addrs
        .filter_map(|a| {
            let ip = a.address.as_ref()?.as_sockaddr_in()?.ip();
            let mask = a.netmask.as_ref()?.as_sockaddr_in()?.ip();
            Some((a.interface_name, ip, mask))
        })
        .collect()
}

/// Sends magic packets for every MAC to the asset's subnet-directed broadcast and to
/// 255.255.255.255, bound to `interface` when set. Returns where they went.
pub fn wake(macs: &[[u8; 6]], asset_ip: Option<Ipv4Addr>, interface: Option<&str>) -> Result<Vec<Ipv4Addr>, String> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("cannot open a UDP socket for Wake-on-LAN: {e}"))?;
    socket.set_broadcast(true).map_err(|e| format!("cannot allow broadcasts on the Wake-on-LAN socket: {e}"))?;
    if let Some(i) = interface {
        socket.bind_device(Some(i.as_bytes())).map_err(|e| {
            format!("cannot send Wake-on-LAN on interface '{i}' ({e}): check --wol-interface; binding to an interface needs root or CAP_NET_RAW")
        })?;
    }
    let mut to = Vec::new();
    if let Some(ip) = asset_ip {
        to.push(directed_broadcast(ip, &local_networks(), interface));
    }
    to.push(Ipv4Addr::BROADCAST);
    for mac in macs {
        let packet = magic_packet(*mac);
        for addr in &to {
            for port in PORTS {
                let dest = SockAddr::from(SocketAddr::V4(SocketAddrV4::new(*addr, port)));
                socket
                    .send_to(&packet, &dest)
                    .map_err(|e| format!("cannot send a magic packet to {addr}:{port}: {e}"))?;
            }
        }
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_packets_and_macs() {
        let mac = parse_mac("02:D0:05:00:00:0b").expect("mac");
        assert_eq!(mac, [2, 0xd0, 5, 0, 0, 11]);
        assert_eq!(parse_mac("02-d0-05-00-00-0b"), Some(mac));
        for bad in ["02:d0:05:00:00", "02:d0:05:00:00:0g", "02:d0:05:00:00:0bb", ""] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
        let p = magic_packet(mac);
        assert_eq!(&p[..6], &[0xFF; 6]);
        assert!(p[6..].chunks(6).all(|c| c == mac));
        assert_eq!(p[6..].chunks(6).count(), 16);
    }

    #[test]
    fn directed_broadcast_follows_the_local_network() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().expect("ip");
        let local = vec![
            ("eth0".to_string(), ip("192.0.2.5"), ip("255.255.255.0")),
            ("br0".to_string(), ip("10.77.0.1"), ip("255.255.0.0")),
        ];
        assert_eq!(directed_broadcast(ip("10.77.5.12"), &local, None), ip("10.77.255.255"));
        assert_eq!(directed_broadcast(ip("10.77.5.12"), &local, Some("br0")), ip("10.77.255.255"));
        // not on the chosen interface's network, or behind a router: its /24
        assert_eq!(directed_broadcast(ip("10.77.5.12"), &local, Some("eth0")), ip("10.77.5.255"));
        assert_eq!(directed_broadcast(ip("198.51.100.7"), &local, None), ip("198.51.100.255"));
    }
}
