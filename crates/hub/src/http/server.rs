//! The serving loop: accepts TCP connections, optionally speaks TLS, and
//! serves the router over HTTP/1.1 with hyper, under limits a client
//! without credentials cannot get around:
//!
//! - a global connection cap, kept below the open-file limit (raised to
//!   its hard limit at start), and a cap per client address that exempts
//!   loopback, where a reverse proxy connects from; a connection over a
//!   cap is closed as it arrives;
//! - a header timeout (hyper's, counted from the connection's start or the
//!   end of the previous answer, and not reset by a trickle of bytes), a
//!   TLS handshake bounded by the same timeout, and an idle timeout for
//!   kept-alive connections that stay silent between requests;
//! - a stall timeout for a client that stops reading its answer.
//!
//! Bodies are bounded where they are read (`http/gate.rs`). A connection
//! that ends (say, after an answer with `Connection: close`) is shut down
//! for writing and then drained briefly ("lingering close"): closing a
//! socket with unread input makes the kernel send a reset, which can
//! destroy the answer (a 401 to an upload whose body was never read)
//! before the client reads it.
//!
//! Stopping: the listener closes, idle connections close, requests in
//! flight are finished (for at most [`SHUTDOWN_GRACE`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::log::Warnings;
use crate::config::HubConfig;
use crate::error::HubError;

/// Open files kept free for the hub's own use (SQLite and its journal
/// files, the listener, logs) when the connection cap is fitted under the
/// open-file limit.
pub const RESERVED_FILES: u64 = 64;
/// How long stopping waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long a closing connection's unread input is drained.
const LINGER: Duration = Duration::from_secs(2);
/// How much unread input is drained at most.
const LINGER_BYTES: usize = 16 * 1024 * 1024;
/// The most a request's header may take; the API's headers are a few
/// hundred bytes. It also bounds hyper's read buffer per connection.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The limits the loop enforces, from the settings and the open-file limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// A client that reads none of its answer for this long is dropped.
    pub stall_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl Limits {
    /// The limits of `config`, with the connection cap lowered (and a
    /// warning logged) if `open_files` cannot hold it.
    pub fn new(config: &HubConfig, open_files: Option<u64>) -> Limits {
        let mut max_connections = config.max_connections;
        if let Some(n) = open_files {
            let fits = usize::try_from(n.saturating_sub(RESERVED_FILES))
                .unwrap_or(usize::MAX)
                .max(1);
            if fits < max_connections {
                tracing::warn!(
                    max_connections = fits,
                    configured = config.max_connections,
                    open_file_limit = n,
                    "max_connections lowered to fit under the open-file limit (raise the hard limit, e.g. LimitNOFILE in the systemd unit)"
                );
                max_connections = fits;
            }
        }
        Limits {
            header_timeout: Duration::from_secs(config.header_timeout_s),
            idle_timeout: Duration::from_secs(config.idle_timeout_s),
            stall_timeout: Duration::from_secs(config.body_timeout_s),
            max_connections,
            max_per_address: config.max_connections_per_address.min(max_connections),
        }
    }
}

/// Raises the process's soft open-file limit to its hard limit and
/// returns the soft limit now in force (None where there is no such limit
/// or it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!("cannot raise the open-file limit: {e}");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Refuses plain HTTP on an address other machines reach, unless the
/// settings say a reverse proxy in front terminates TLS.
pub fn check_listen(addr: SocketAddr, tls: bool, config: &HubConfig) -> Result<(), HubError> {
    if tls || config.plain_http_behind_proxy || addr.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    Err(HubError::Invalid(format!(
        "refusing to serve plain HTTP on {addr}: terminals' requests and the hub's answers would \
         cross the network unencrypted. Set tls_cert and tls_key in hub.toml \
         (`xinyi-hub tls self-signed` makes a pair), or, if a reverse proxy in front terminates \
         TLS, set plain_http_behind_proxy = true (and listen on 127.0.0.1 if it runs on this machine)"
    )))
}

/// The connection caps.
#[derive(Debug)]
struct Admission {
    global: Arc<Semaphore>,
    max: usize,
    max_per_address: usize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place under the caps, given back when dropped.
#[derive(Debug)]
struct Admitted {
    _global: OwnedSemaphorePermit,
    counted: Option<IpAddr>,
    admission: Arc<Admission>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(ip) = self.counted
            && let Ok(mut m) = self.admission.per_address.lock()
            && let Some(n) = m.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

impl Admission {
    fn new(max: usize, max_per_address: usize) -> Admission {
        Admission {
            global: Arc::new(Semaphore::new(max)),
            max,
            max_per_address,
            per_address: Mutex::new(HashMap::new()),
        }
    }

    /// A place for a connection from `ip`, or which cap is full.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, &'static str> {
        let global = Arc::clone(&self.global)
            .try_acquire_owned()
            .map_err(|_| "max_connections")?;
        let ip = ip.to_canonical();
        let counted = if ip.is_loopback() {
            None
        } else {
            let mut m = self
                .per_address
                .lock()
                .map_err(|_| "max_connections_per_address")?;
            let n = m.entry(ip).or_insert(0);
            if *n >= self.max_per_address {
                return Err("max_connections_per_address");
            }
            *n += 1;
            Some(ip)
        };
        Ok(Admitted {
            _global: global,
            counted,
            admission: Arc::clone(self),
        })
    }

    /// Waits until every connection has ended, for at most `grace`.
    async fn drained(&self, grace: Duration) -> bool {
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        tokio::time::timeout(grace, self.global.acquire_many(all))
            .await
            .is_ok()
    }
}

/// What one connection is doing, for the idle and stall timeouts.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Milliseconds from `epoch` to the last byte read or written.
    last_ms: AtomicU64,
    /// Requests whose handler is running.
    handling: AtomicUsize,
    /// Answers whose body is still being sent.
    sending: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            sending: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let last = self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        Instant::now().saturating_duration_since(last)
    }

    fn busy(&self) -> bool {
        self.handling.load(Ordering::Acquire) > 0 || self.sending.load(Ordering::Acquire) > 0
    }

    /// Resolves when the connection should be dropped: silent for the
    /// idle timeout with no request in hand, or for the stall timeout
    /// while an answer waits to be read. Never while a handler runs (the
    /// body timeout bounds the client's part of that).
    async fn expired(&self, limits: &Limits) {
        loop {
            let limit = if self.handling.load(Ordering::Acquire) > 0 {
                None
            } else if self.sending.load(Ordering::Acquire) > 0 {
                Some(limits.stall_timeout)
            } else {
                Some(limits.idle_timeout)
            };
            let silent = self.silent_for();
            match limit {
                Some(l) if silent >= l => return,
                Some(l) => tokio::time::sleep(l - silent).await,
                None => tokio::time::sleep(limits.idle_timeout).await,
            }
        }
    }
}

/// Counts a request from its handler's start to its answer's last byte.
#[derive(Debug)]
struct Handling(Arc<Activity>);

impl Handling {
    fn start(a: &Arc<Activity>) -> Handling {
        a.handling.fetch_add(1, Ordering::AcqRel);
        a.touch();
        Handling(Arc::clone(a))
    }

    /// The handler is done; the answer's body is now being sent.
    fn sending(self) -> Sending {
        let a = Arc::clone(&self.0);
        a.sending.fetch_add(1, Ordering::AcqRel);
        drop(self);
        Sending(a)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug)]
struct Sending(Arc<Activity>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// An answer's body that says when it has been sent (or dropped).
struct Tracked {
    body: Body,
    _sending: Sending,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket that notes when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` until `shutdown` completes.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    warnings: Arc<Warnings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let admission = Arc::new(Admission::new(
        limits.max_connections,
        limits.max_per_address,
    ));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .keep_alive(true);
    let http = Arc::new(http);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of files or memory: wait a little rather than spin;
                // the connections in hand finish and free some.
                warnings.server_trouble(
                    "accept_failed",
                    &format_args!("accepting a connection failed: {e}"),
                );
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let admitted = match admission.admit(peer.ip()) {
            Ok(a) => a,
            Err(cap) => {
                warnings.connection_refused(cap, peer, &format!("{cap} reached"));
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            admitted,
            router.clone(),
            tls.clone(),
            Arc::clone(&http),
            limits,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    if !admission.drained(SHUTDOWN_GRACE).await {
        tracing::warn!(
            "stopped waiting for requests in flight after {} s",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    router: Router,
    tls: Option<TlsAcceptor>,
    http: Arc<http1::Builder>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    };
    match tls {
        None => serve(io, peer, router, &http, &limits, activity, stop).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                r = tokio::time::timeout(limits.header_timeout, acceptor.accept(io)) => r,
                _ = stop.wait_for(|s| *s) => return,
            };
            match handshake {
                Ok(Ok(io)) => serve(io, peer, router, &http, &limits, activity, stop).await,
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
    drop(admitted);
}

type BoxedAnswer =
    Pin<Box<dyn Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send>>;

async fn serve<S>(
    io: S,
    peer: SocketAddr,
    router: Router,
    http: &http1::Builder,
    limits: &Limits,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_activity = Arc::clone(&activity);
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| -> BoxedAnswer {
        // Handlers learn the peer from the connection, as axum's
        // `ConnectInfo` would give it.
        req.extensions_mut().insert(ConnectInfo(peer));
        let handling = Handling::start(&svc_activity);
        let answer = router.clone().oneshot(req);
        Box::pin(async move {
            let resp = answer.await?;
            let sending = handling.sending();
            Ok(resp.map(|body| {
                Body::new(Tracked {
                    body,
                    _sending: sending,
                })
            }))
        })
    });
    let mut conn = http.serve_connection(TokioIo::new(io), svc);
    enum Ended {
        Done(Result<(), hyper::Error>),
        Expired,
        Stop,
    }
    let ended = {
        let serving = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx));
        tokio::select! {
            r = serving => Ended::Done(r),
            () = activity.expired(limits) => Ended::Expired,
            _ = stop.wait_for(|s| *s) => Ended::Stop,
        }
    };
    let done = match ended {
        Ended::Done(r) => r,
        // Nothing in hand: dropping the connection closes it.
        Ended::Expired => return,
        Ended::Stop if !activity.busy() => return,
        Ended::Stop => {
            Pin::new(&mut conn).graceful_shutdown();
            tokio::select! {
                r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => r,
                () = activity.expired(limits) => return,
            }
        }
    };
    match done {
        Ok(()) => {
            let io = conn.into_parts().io.into_inner();
            linger(io).await;
        }
        Err(e) => tracing::debug!(%peer, "connection ended: {e}"),
    }
}

/// Shuts the connection down for writing, then reads and discards what
/// the client still sends, for a little while, before closing.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    let _ = tokio::time::timeout(LINGER, async {
        if io.shutdown().await.is_err() {
            return;
        }
        let mut buf = vec![0u8; 16 * 1024];
        let mut drained = 0usize;
        while drained < LINGER_BYTES {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_spare_loopback() {
        let a = Arc::new(Admission::new(5, 2));
        let far: IpAddr = "10.0.0.5".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        let x = a.admit(far).unwrap();
        let _y = a.admit(mapped).unwrap();
        assert_eq!(a.admit(far).unwrap_err(), "max_connections_per_address");
        drop(x);
        let _x = a.admit(far).unwrap();
        // Loopback is not capped per address, only by the global cap.
        let lo: Vec<_> = (0..3)
            .map(|_| a.admit("127.0.0.1".parse().unwrap()).unwrap())
            .collect();
        assert_eq!(
            a.admit("::1".parse().unwrap()).unwrap_err(),
            "max_connections"
        );
        drop(lo);
        assert!(a.admit("::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_cap_fits_under_the_open_file_limit() {
        let c = HubConfig::default();
        assert_eq!(Limits::new(&c, Some(1_000_000)).max_connections, 4096);
        let l = Limits::new(&c, Some(1024));
        assert_eq!(l.max_connections, 1024 - RESERVED_FILES as usize);
        assert!(l.max_per_address <= l.max_connections);
        assert_eq!(Limits::new(&c, Some(10)).max_connections, 1);
        assert_eq!(Limits::new(&c, None).max_connections, 4096);
    }

    #[test]
    fn plain_http_only_on_loopback_or_behind_a_proxy() {
        let mut c = HubConfig::default();
        let public: SocketAddr = "0.0.0.0:8470".parse().unwrap();
        let e = check_listen(public, false, &c).unwrap_err().to_string();
        assert!(
            e.contains("plain_http_behind_proxy") && e.contains("tls_cert"),
            "{e}"
        );
        assert!(check_listen(public, true, &c).is_ok());
        assert!(check_listen("127.0.0.1:1".parse().unwrap(), false, &c).is_ok());
        assert!(check_listen("[::1]:1".parse().unwrap(), false, &c).is_ok());
        assert!(check_listen("[::]:1".parse().unwrap(), false, &c).is_err());
        c.plain_http_behind_proxy = true;
        assert!(check_listen(public, false, &c).is_ok());
    }
}
