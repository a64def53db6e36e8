//! The accept loop: HTTP/1.1 connections served by hyper with what a public service needs
//! against slow or greedy clients. A request head must arrive within the header timeout (which
//! also closes a keep-alive connection that sits idle that long), a head over the size cap is
//! answered 431 by hyper, and one address may hold only so many connections at once (a trusted
//! proxy, which carries everybody's, is exempt). `axum::serve` sets none of these.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::AppError;
use crate::config::Config;

/// hyper's smallest allowed read buffer, and so the smallest header cap.
const MIN_HEADER_BYTES: usize = 8192;

/// Open connections per client address.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// Holds one of an address's connection slots until dropped.
struct Slot {
    counts: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    /// A slot for `ip` if it holds fewer than `max` connections.
    fn take(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The answer to every request on a connection over its address's limit.
fn too_many_connections(max: usize) -> Response {
    let mut response = AppError::TooManyConnections { max }.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets every open
/// connection finish its request (event streams end on the same signal) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BYTES))
        .keep_alive(true);
    let counts = PerAddress::default();
    let graceful = GracefulShutdown::new();
    let stop = async move {
        let _ = shutdown.wait_for(|down| *down).await;
    };
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most often: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        // A dual-stack listener sees an IPv4 peer as `::ffff:a.b.c.d`: the same address.
        let ip = peer.ip().to_canonical();
        let slot = if config.trusted_proxies.contains(&ip) {
            None
        } else {
            // An IPv6 client is counted by its /64, as the other per-address limits count it.
            match counts.take(
                crate::client_addr::limit_ip(ip),
                config.max_connections_per_address,
            ) {
                Some(slot) => Some(slot),
                None => {
                    let max = config.max_connections_per_address;
                    let refuse = tower::service_fn(move |_: Request<Incoming>| async move {
                        Ok::<_, Infallible>(too_many_connections(max))
                    });
                    let mut once = http.clone();
                    let connection = once
                        .keep_alive(false)
                        .serve_connection(io, TowerToHyperService::new(refuse));
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    continue;
                }
            }
        };
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let connection =
            graceful.watch(http.serve_connection(io, TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_given_back() {
        let counts = PerAddress::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = counts.take(a, 2).expect("first");
        let _second = counts.take(a, 2).expect("second");
        assert!(counts.take(a, 2).is_none());
        assert!(
            counts.take(b, 2).is_some(),
            "another address is not affected"
        );
        drop(first);
        assert!(
            counts.take(a, 2).is_some(),
            "a closed connection frees its slot"
        );
    }
}
