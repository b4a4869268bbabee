//! The `amqps` listener (IoT Hub's port 5671): TLS from the first byte,
//! then one task per connection. Its connection cap comes from the
//! descriptor budget shared with the other listeners (`hublet-net`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hublet_core::Hub;
use hublet_net::{Acceptor, Incoming};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::ConnAuth;
use crate::eventhub::EventsAt;
use hublet_net::Peeked;

/// How long a TLS handshake may take.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// Where and how to listen.
#[derive(Clone)]
pub struct AmqpConfig {
    /// The listener's address (IoT Hub's is port 5671).
    pub addr: SocketAddr,
    /// The hub's TLS settings.
    pub tls: Arc<ServerConfig>,
    /// Most connections at once.
    pub max_connections: usize,
}

/// A running AMQP endpoint. Cloning shares it (the HTTPS listener hands
/// it the AMQP connections that arrive on its port).
#[derive(Clone)]
pub struct AmqpServer {
    hub: Hub,
    addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// Where IoT Hub's `messages/events` address redirects readers: this
    /// listener, which serves the Event Hub-compatible endpoint.
    events_at: Option<EventsAt>,
}

impl AmqpServer {
    /// An endpoint with no listener of its own, serving only connections
    /// handed to it ([`AmqpServer::serve_peeked`]).
    pub fn detached(hub: Hub) -> AmqpServer {
        AmqpServer {
            hub,
            addr: None,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            events_at: None,
        }
    }

    /// Binds and starts accepting.
    pub async fn start(hub: Hub, config: AmqpConfig) -> std::io::Result<AmqpServer> {
        let listener = TcpListener::bind(config.addr).await?;
        let mut server = AmqpServer::detached(hub);
        let addr = listener.local_addr()?;
        server.addr = Some(addr);
        server.events_at = Some(EventsAt {
            host: hublet_net::client_host(&addr),
            port: addr.port(),
        });
        let acceptor = Acceptor::new(listener, config.max_connections, "amqps");
        let tls = TlsAcceptor::from(config.tls);
        let s = server.clone();
        server
            .tracker
            .spawn(async move { s.accept_loop(acceptor, tls).await });
        Ok(server)
    }

    async fn accept_loop(self, mut listener: Acceptor, tls: TlsAcceptor) {
        while let Some(incoming) = listener.next(&self.cancel).await {
            let Incoming::Admitted {
                stream,
                peer,
                permit,
            } = incoming
            else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().ok();
            let (tls, me) = (tls.clone(), self.clone());
            self.tracker.spawn(async move {
                match tokio::time::timeout(TLS_HANDSHAKE, tls.accept(stream)).await {
                    Ok(Ok(s)) => {
                        let dialled = dialled_host(s.get_ref().1.server_name(), local);
                        crate::connection::serve(
                            me.hub.clone(),
                            s,
                            peer.to_string(),
                            "amqp",
                            me.cancel.clone(),
                            me.events_at_for(dialled),
                        )
                        .await
                    }
                    _ => tracing::debug!(%peer, "AMQP TLS handshake failed"),
                }
                drop(permit);
            });
        }
    }

    /// The listener's address, if it has one.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Serves a connection that arrived elsewhere (AMQP on the HTTPS port),
    /// whose first bytes were already read. `dialled` is the host the
    /// client dialled, if known (see [`dialled_host`]).
    pub async fn serve_peeked<S>(&self, io: Peeked<S>, remote: String, dialled: Option<String>)
    where
        S: AsyncRead + AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
    {
        let auth = Arc::new(ConnAuth::new(self.hub.clone(), "amqp", remote));
        let cancel = self.cancel.clone();
        let at = self.events_at_for(dialled);
        crate::connection::serve_peeked(self.hub.clone(), io, auth, cancel, at).await;
    }

    /// Serves a connection from its first byte on another transport (AMQP
    /// over WebSockets, [`crate::websocket`]); `via` names it in the trace,
    /// `dialled` is the host the client dialled, if known.
    pub async fn serve_stream<S>(
        &self,
        io: S,
        remote: String,
        via: &'static str,
        dialled: Option<String>,
    ) where
        S: AsyncRead + AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
    {
        let (hub, cancel) = (self.hub.clone(), self.cancel.clone());
        let at = self.events_at_for(dialled);
        crate::connection::serve(hub, io, remote, via, cancel, at).await;
    }

    /// Where this connection's `messages/events` readers are redirected:
    /// the host the client dialled (so a hub on a wildcard address sends a
    /// classroom laptop back to the address it used, not to `localhost`)
    /// and this listener's port.
    fn events_at_for(&self, dialled: Option<String>) -> Option<EventsAt> {
        let mut at = self.events_at.clone()?;
        if let Some(host) = dialled {
            at.host = host;
        }
        Some(at)
    }

    /// Closes every connection and stops accepting.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}

/// The host a TLS client dialled: its SNI name, else the local address it
/// reached (`localhost` for loopback; SNI never carries an IP address).
pub fn dialled_host(sni: Option<&str>, local: Option<SocketAddr>) -> Option<String> {
    match (sni, local) {
        (Some(name), _) if !name.is_empty() => Some(name.to_string()),
        (_, Some(addr)) => Some(hublet_net::client_host(&addr)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::dialled_host;

    #[test]
    fn the_dialled_host_is_the_sni_name_else_the_address_reached() {
        let lan = Some("192.168.1.20:5671".parse().unwrap());
        let lo = Some("127.0.0.1:5671".parse().unwrap());
        assert_eq!(
            dialled_host(Some("hub.lab"), lan).as_deref(),
            Some("hub.lab")
        );
        assert_eq!(dialled_host(None, lan).as_deref(), Some("192.168.1.20"));
        assert_eq!(dialled_host(Some(""), lo).as_deref(), Some("localhost"));
        assert_eq!(dialled_host(None, None), None);
    }
}
