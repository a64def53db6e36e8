//! Who the client is, for the limits kept per address: the connection's peer, or behind a
//! trusted proxy the address that proxy saw (`X-Forwarded-For`). From any other peer the
//! header is ignored, so a client cannot pick the address it is counted under.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// The client's address (`None` when the server runs without connection info, as in some
/// in-process tests).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self(peer.map(|peer| {
            client_of(peer, &parts.headers, &state.config().trusted_proxies)
        })))
    }
}

/// The client behind `peer`: `peer` itself unless it is one of `trusted`; then the nearest
/// `X-Forwarded-For` hop that is not a trusted proxy (each proxy appends the address it saw,
/// so hops are read from the right; anything left of the first untrusted hop was written by
/// the client and is not believed). An unreadable hop counts the request under the proxy.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    // A dual-stack listener sees an IPv4 peer as `::ffff:a.b.c.d`: the same address.
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

/// The key the per-address limits count `ip` under: an IPv4 address, or an IPv6 address's /64
/// (the block one subscriber gets, in which a client can take a new address per request).
pub fn limit_key(ip: IpAddr) -> String {
    match limit_ip(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// [`limit_key`] as an address: an IPv4 address as it is, an IPv6 address with all but its
/// first 64 bits zero (the connections per address are counted by it).
pub fn limit_ip(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_str(value).expect("header"),
            );
        }
        headers
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = [10, 0, 0, 2].into();
        let client: IpAddr = [203, 0, 113, 7].into();
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(client_of(proxy, &headers, &[proxy]), client);
        assert_eq!(
            client_of(client, &forwarded(&["192.0.2.1"]), &[proxy]),
            client
        );
        assert_eq!(client_of(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn a_proxy_seen_through_a_dual_stack_listener_is_still_trusted() {
        let proxy: IpAddr = [10, 0, 0, 2].into();
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().expect("address");
        assert_eq!(
            client_of(mapped, &forwarded(&["203.0.113.7"]), &[proxy]),
            IpAddr::from([203, 0, 113, 7])
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_block() {
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        assert_eq!(limit_key(one), limit_key(other));
        assert_eq!(limit_key(one), "2001:db8:1:2::/64");
        assert_ne!(
            limit_key(one),
            limit_key("2001:db8:1:3::1".parse().expect("address"))
        );
        assert_eq!(limit_key(IpAddr::from([203, 0, 113, 7])), "203.0.113.7");
        assert_eq!(
            limit_key("::ffff:203.0.113.7".parse().expect("address")),
            "203.0.113.7"
        );
        // The connections per address are counted by the same block.
        assert_eq!(limit_ip(one), limit_ip(other));
        assert_eq!(
            limit_ip(one),
            "2001:db8:1:2::".parse::<IpAddr>().expect("address")
        );
        assert_eq!(
            limit_ip("::ffff:203.0.113.7".parse().expect("address")),
            IpAddr::from([203, 0, 113, 7])
        );
    }

    #[test]
    fn a_client_cannot_pick_its_address_behind_the_proxy() {
        let proxy: IpAddr = [10, 0, 0, 2].into();
        let inner: IpAddr = [10, 0, 0, 3].into();
        // The client sent "192.0.2.1" itself; the proxies appended what they saw.
        let headers = forwarded(&["192.0.2.1, 203.0.113.7", "10.0.0.3"]);
        assert_eq!(
            client_of(proxy, &headers, &[proxy, inner]),
            IpAddr::from([203, 0, 113, 7])
        );
        assert_eq!(
            client_of(proxy, &forwarded(&["unknown"]), &[proxy]),
            proxy,
            "an unreadable hop is counted under the proxy"
        );
    }
}
