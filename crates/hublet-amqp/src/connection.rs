//! One service connection: header, SASL, open, then sessions and links.
//!
//! The eight header bytes pick the handshake (one fe2o3-amqp acceptor takes
//! only one of the two headers, so they are read first); fe2o3-amqp does
//! the rest of the protocol. Each link is routed by its node: `$cbs` both
//! ways, `/messages/devicebound` from the client, the feedback node to it;
//! anything else is refused with `amqp:not-found`. Limits keep one client
//! from holding much: 16 sessions, 64 links a session, 1 MiB a message.

use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::acceptor::{
    ConnectionAcceptor, LinkAcceptor, LinkEndpoint, ListenerConnectionHandle,
    ListenerSessionHandle, SessionAcceptor, SupportedReceiverSettleModes,
    SupportedSenderSettleModes,
};
use fe2o3_amqp::types::definitions::{ReceiverSettleMode, Role, SenderSettleMode};
use fe2o3_amqp::types::performatives::Attach;
use hublet_core::Hub;
use hublet_core::TraceDetail;
use hublet_core::trace::detail::{
    LinkDirection, ServiceConnected, ServiceDisconnected, ServiceLink,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::address::{self, Node};
use crate::auth::ConnAuth;
use crate::cbs::{self, Replies};
use crate::errors::unknown_node;
use crate::eventhub::EventsAt;
use crate::frame_guard::FrameGuard;
use crate::sasl::HubSasl;
use crate::{c2d, feedback};
use hublet_net::Peeked;

/// `AMQP 0 1 0 0`: AMQP without SASL (Node, .NET).
pub const AMQP_HEADER: [u8; 8] = *b"AMQP\x00\x01\x00\x00";
/// `AMQP 3 1 0 0`: SASL first (uamqp, Java, the Azure CLI).
pub const SASL_HEADER: [u8; 8] = *b"AMQP\x03\x01\x00\x00";

/// How long a client may take to finish the header, SASL and open.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Largest frame either side sends (Java's WebSocket layer buffers 64 KiB).
const MAX_FRAME: u32 = 65_536;
/// Largest message accepted on a link (IoT Hub's C2D limit is 64 KiB; the
/// engine refuses over that with 413001, this only bounds memory).
const MAX_MESSAGE: u64 = 1024 * 1024;
/// Sessions per connection (channel-max is the highest channel number).
const CHANNEL_MAX: u16 = 15;
/// Links per session (handle-max is the highest handle).
const HANDLE_MAX: u32 = 63;
/// Idle timeout announced to clients: they send heartbeats at half of it.
const IDLE_MS: u32 = 240_000;

/// Serves one connection, from its first byte (after TLS) to its end.
///
/// `events_at` is where readers of IoT Hub's own `messages/events` address
/// are redirected (this listener); `None` refuses that address instead.
pub async fn serve<S>(
    hub: Hub,
    io: S,
    remote: String,
    via: &'static str,
    cancel: CancellationToken,
    events_at: Option<EventsAt>,
) where
    S: AsyncRead + AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let auth = Arc::new(ConnAuth::new(hub.clone(), via, remote.clone()));
    let peeked = match tokio::time::timeout(HANDSHAKE, Peeked::read(io, 8)).await {
        Ok(Ok(p)) => p,
        _ => return,
    };
    serve_peeked(hub, peeked, auth, cancel, events_at).await;
}

/// Serves a connection whose first bytes were already read (the HTTPS
/// listener reads them to tell AMQP from HTTP).
pub async fn serve_peeked<S>(
    hub: Hub,
    mut peeked: Peeked<S>,
    auth: Arc<ConnAuth>,
    cancel: CancellationToken,
    events_at: Option<EventsAt>,
) where
    S: AsyncRead + AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    if tokio::time::timeout(HANDSHAKE, peeked.fill(8))
        .await
        .is_err()
    {
        return;
    }
    let head: [u8; 8] = match peeked.head().try_into() {
        Ok(h) => h,
        Err(_) => return,
    };
    let name = hub.settings().hub_name.clone();
    let peeked = FrameGuard::new(peeked, MAX_FRAME);
    let handshake = async {
        if head == SASL_HEADER {
            let sasl = HubSasl::new(auth.clone());
            let acceptor = ConnectionAcceptor::builder()
                .container_id(name)
                .max_frame_size(MAX_FRAME)
                .channel_max(CHANNEL_MAX)
                .idle_time_out(IDLE_MS)
                .sasl_acceptor(sasl.clone())
                .build();
            let conn = acceptor.accept(peeked).await;
            conn.map(|c| (c, sasl.result().mechanism))
                .map_err(|e| format!("{e}"))
        } else if head == AMQP_HEADER {
            let acceptor = ConnectionAcceptor::builder()
                .container_id(name)
                .max_frame_size(MAX_FRAME)
                .channel_max(CHANNEL_MAX)
                .idle_time_out(IDLE_MS)
                .build();
            acceptor
                .accept(peeked)
                .await
                .map(|c| (c, None))
                .map_err(|e| format!("{e}"))
        } else {
            // Not AMQP: say which protocol this port speaks, then close.
            let mut peeked = peeked;
            let _ = peeked.write_all(&AMQP_HEADER).await;
            let _ = peeked.shutdown().await;
            Err(format!("not an AMQP 1.0 header: {:02x?}", head))
        }
    };
    let (conn, mechanism) = match tokio::time::timeout(HANDSHAKE, handshake).await {
        Ok(Ok(c)) => c,
        Ok(Err(reason)) => {
            auth.trace(TraceDetail::ServiceDisconnected(ServiceDisconnected {
                via: auth.via().into(),
                remote: auth.remote().into(),
                reason: Some(reason),
            }));
            return;
        }
        Err(_) => {
            auth.trace(TraceDetail::ServiceDisconnected(ServiceDisconnected {
                via: auth.via().into(),
                remote: auth.remote().into(),
                reason: Some("the handshake took longer than 10 s".into()),
            }));
            return;
        }
    };
    auth.trace(TraceDetail::ServiceConnected(ServiceConnected {
        via: auth.via().into(),
        remote: auth.remote().into(),
        mechanism,
        container_id: None,
    }));
    let reason = run(hub, conn, auth.clone(), cancel, events_at).await;
    auth.trace(TraceDetail::ServiceDisconnected(ServiceDisconnected {
        via: auth.via().into(),
        remote: auth.remote().into(),
        reason,
    }));
}

async fn run(
    hub: Hub,
    mut conn: ListenerConnectionHandle,
    auth: Arc<ConnAuth>,
    cancel: CancellationToken,
    events_at: Option<EventsAt>,
) -> Option<String> {
    let replies = Arc::new(Replies::new());
    let mgmt_replies = Arc::new(Replies::new());
    let sessions = SessionAcceptor::builder().handle_max(HANDLE_MAX).build();
    let links = tokio_util::task::TaskTracker::new();
    let reason = loop {
        tokio::select! {
            incoming = conn.next_incoming_session() => {
                let Some(incoming) = incoming else { break None };
                match sessions.accept_incoming_session(incoming, &mut conn).await {
                    Ok(s) => {
                        links.spawn(session(hub.clone(), s, auth.clone(), replies.clone(), mgmt_replies.clone(), events_at.clone()));
                    }
                    Err(e) => break Some(format!("session refused: {e}")),
                }
            }
            _ = cancel.cancelled() => {
                let _ = conn.close().await;
                break Some("the hub is shutting down".into());
            }
        }
    };
    let _ = conn.on_close().await;
    links.close();
    reason
}

fn link_address(attach: &Attach) -> (String, LinkDirection) {
    match attach.role {
        // The client sends: the node is the target.
        Role::Sender => (
            attach
                .target
                .as_ref()
                .and_then(|t| match t.as_ref() {
                    fe2o3_amqp::types::messaging::TargetArchetype::Target(t) => t.address.clone(),
                    #[allow(unreachable_patterns)]
                    _ => None,
                })
                .unwrap_or_default(),
            LinkDirection::ToHub,
        ),
        Role::Receiver => (
            attach
                .source
                .as_ref()
                .and_then(|s| s.address.clone())
                .unwrap_or_default(),
            LinkDirection::FromHub,
        ),
    }
}

async fn session(
    hub: Hub,
    mut s: ListenerSessionHandle,
    auth: Arc<ConnAuth>,
    replies: Arc<Replies>,
    mgmt_replies: Arc<Replies>,
    events_at: Option<EventsAt>,
) {
    // Event Hub readers get pre-settled events whatever they ask for (the
    // Python SDK asks for unsettled and never settles).
    let eh_acceptor = LinkAcceptor::builder()
        .supported_sender_settle_modes(SupportedSenderSettleModes::Settled)
        .fallback_sender_settle_mode(SenderSettleMode::Settled)
        .supported_receiver_settle_modes(SupportedReceiverSettleModes::First)
        .fallback_receiver_settle_mode(ReceiverSettleMode::First)
        .max_message_size(MAX_MESSAGE)
        .build();
    let eh_name = hub.events().name();
    let acceptor = LinkAcceptor::builder()
        .supported_receiver_settle_modes(SupportedReceiverSettleModes::First)
        .fallback_receiver_settle_mode(ReceiverSettleMode::First)
        .max_message_size(MAX_MESSAGE)
        .build();
    let tasks = tokio_util::task::TaskTracker::new();
    while let Some(attach) = s.next_incoming_attach().await {
        let (address, direction) = link_address(&attach);
        // An Event Hub partition reader: its partition and start position.
        let partition = match (
            &attach.role,
            crate::eventhub::partition_address(&address, &eh_name),
        ) {
            (Role::Receiver, Some((cg, p))) => Some((
                cg,
                p,
                crate::eventhub::position_of(
                    attach.source.as_ref().and_then(|s| s.filter.as_ref()),
                ),
                crate::eventhub::epoch_of(attach.properties.as_ref()),
                crate::eventhub::wants_runtime_metric(attach.desired_capabilities.as_ref()),
            )),
            _ => None,
        };
        let management = crate::eventhub::is_management(&address);
        // A reader of IoT Hub's own `messages/events` (the Azure CLI, the
        // samples): told where the Event Hub-compatible endpoint is.
        let redirect = match (&attach.role, &events_at) {
            (Role::Receiver, Some(at)) => crate::eventhub::iothub_events_path(&address)
                .map(|rest| at.redirect(&eh_name, &rest)),
            _ => None,
        };
        // The session's limit: a handle above handle-max, or more live
        // links than it allows, is refused with resource-limit-exceeded.
        let over_limit = attach.handle.0 > HANDLE_MAX || tasks.len() > HANDLE_MAX as usize;
        let node = if over_limit {
            None
        } else {
            address::node(&address)
        };
        let trace = |reason: Option<String>, attached: bool| {
            let link = ServiceLink {
                via: auth.via().into(),
                remote: auth.remote().into(),
                address: address.clone(),
                direction,
                reason,
            };
            auth.trace(if attached {
                TraceDetail::ServiceLinkAttached(link)
            } else {
                TraceDetail::ServiceLinkDetached(link)
            });
        };
        let accepted = if partition.is_some() || redirect.is_some() {
            eh_acceptor.accept_incoming_attach(attach, &mut s).await
        } else {
            acceptor.accept_incoming_attach(attach, &mut s).await
        };
        let endpoint = match accepted {
            Ok(e) => e,
            Err(e) => {
                trace(Some(format!("refused: {e}")), false);
                continue;
            }
        };
        let served: Option<
            std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>,
        > =
            match (endpoint, node) {
                (LinkEndpoint::Sender(tx), _) if partition.is_some() && !over_limit => {
                    let Some((cg, p, from, epoch, metric)) = partition.clone() else {
                        continue;
                    };
                    match eventhub_link(&hub, &cg, &p, from, epoch).await {
                        Ok((pid, from, lease)) => Some(Box::pin(crate::eventhub::serve_partition(
                            hub.clone(),
                            auth.clone(),
                            tx,
                            pid,
                            from,
                            lease,
                            metric,
                        ))),
                        Err(e) => {
                            trace(Some(crate::errors::describe(&e)), false);
                            let _ = tx.close_with_error(e).await;
                            None
                        }
                    }
                }
                (LinkEndpoint::Sender(tx), _) if redirect.is_some() => {
                    // Attached first (echoing its source, which Python
                    // needs to see the reason), then detached with the
                    // redirect; without a token it is refused as IoT Hub does.
                    let e = match (auth.current(), redirect.clone()) {
                        (Some(_), Some(e)) => e,
                        _ => crate::errors::token_invalid(
                            "put a token on $cbs before reading messages/events",
                        ),
                    };
                    trace(Some(crate::errors::describe(&e)), false);
                    let _ = tx.close_with_error(e).await;
                    None
                }
                (LinkEndpoint::Receiver(r), _) if management && !over_limit => {
                    Some(Box::pin(crate::eventhub::serve_management(
                        hub.clone(),
                        auth.clone(),
                        mgmt_replies.clone(),
                        r,
                    )))
                }
                (LinkEndpoint::Sender(tx), _) if management && !over_limit => {
                    Some(Box::pin(cbs::serve_replies(mgmt_replies.clone(), tx)))
                }
                (LinkEndpoint::Receiver(r), Some(Node::Cbs)) => Some(Box::pin(
                    cbs::serve_requests(auth.clone(), replies.clone(), r),
                )),
                (LinkEndpoint::Receiver(r), Some(Node::DeviceBound)) => {
                    Some(Box::pin(c2d::serve(hub.clone(), auth.clone(), r)))
                }
                (LinkEndpoint::Sender(tx), Some(Node::Cbs)) => {
                    Some(Box::pin(cbs::serve_replies(replies.clone(), tx)))
                }
                (LinkEndpoint::Sender(tx), Some(Node::Feedback)) => {
                    Some(Box::pin(feedback::serve(hub.clone(), auth.clone(), tx)))
                }
                (LinkEndpoint::Receiver(r), _) => {
                    let e = if over_limit {
                        crate::errors::too_many_links(HANDLE_MAX + 1)
                    } else {
                        unknown_node(&address)
                    };
                    trace(Some(crate::errors::describe(&e)), false);
                    let _ = r.close_with_error(e).await;
                    None
                }
                (LinkEndpoint::Sender(tx), _) => {
                    let e = if over_limit {
                        crate::errors::too_many_links(HANDLE_MAX + 1)
                    } else {
                        unknown_node(&address)
                    };
                    trace(Some(crate::errors::describe(&e)), false);
                    let _ = tx.close_with_error(e).await;
                    None
                }
            };
        if let Some(link) = served {
            trace(None, true);
            let (auth, address) = (auth.clone(), address.clone());
            tasks.spawn(async move {
                let reason = link.await;
                auth.trace(TraceDetail::ServiceLinkDetached(ServiceLink {
                    via: auth.via().into(),
                    remote: auth.remote().into(),
                    address,
                    direction,
                    reason,
                }));
            });
        }
    }
    tasks.close();
    tasks.wait().await;
    let _ = s.on_end().await;
}

/// Checks an Event Hub reader's consumer group, partition and filter:
/// `amqp:not-found` for an unknown group, Event Hubs' argument-out-of-range
/// for an unknown partition, `amqp:not-allowed` for a filter that is not a
/// position.
async fn eventhub_link(
    hub: &Hub,
    cg: &str,
    p: &str,
    from: Result<hublet_core::events::Position, String>,
    epoch: Option<i64>,
) -> Result<
    (
        u32,
        hublet_core::events::Position,
        hublet_core::events::ReaderLease,
    ),
    fe2o3_amqp::types::definitions::Error,
> {
    use fe2o3_amqp::types::definitions::{AmqpError, Error};
    let ev = hub.events();
    if !ev.has_consumer_group(cg).await.unwrap_or(false) {
        return Err(Error::new(
            AmqpError::NotFound,
            Some(format!(
                "The messaging entity '{}:eventhub:{}~{}|{cg}' could not be found.",
                hub.settings().hub_name,
                ev.name(),
                ev.partition_count()
            )),
            None,
        ));
    }
    let pid = ev.partition_id(p).map_err(|_| {
        Error::new(
            fe2o3_amqp::types::definitions::ErrorCondition::Custom(
                fe2o3_amqp::types::primitives::Symbol::from("com.microsoft:argument-out-of-range"),
            ),
            Some(
                "The specified partition is invalid for an EventHub partition sender or receiver."
                    .into(),
            ),
            None,
        )
    })?;
    let from = from.map_err(|e| Error::new(AmqpError::NotAllowed, Some(e), None))?;
    let lease = ev
        .claim_reader(cg, pid, epoch)
        .map_err(crate::eventhub::owner_error)?;
    Ok((pid, from, lease))
}
