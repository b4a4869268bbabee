//! `/messages/serviceBound/feedback`: delivery feedback for the service.
//!
//! The same batches, from the same queue, as the HTTPS feedback endpoint:
//! one AMQP message per batch, its body one data section with the JSON array
//! of records, content type `application/vnd.microsoft.iothub.feedback.json`,
//! `user-id` the hub's name, annotation `iothub-enqueuedtime`. The receiver's
//! outcome settles the batch: `accepted` completes it, `released` or
//! `modified` abandons it (it comes back, up to the delivery limit),
//! `rejected` drops it. A receiver that goes away with a batch unsettled
//! returns it to the queue.

use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::link::Sender;
use fe2o3_amqp::types::messaging::{Body, Data, Message, MessageAnnotations, Outcome, Properties};
use fe2o3_amqp::types::primitives::{Binary, Symbol, Timestamp as AmqpTimestamp, Value};
use hublet_core::Hub;
use hublet_core::feedback::{FEEDBACK_CONTENT_TYPE, FeedbackMessage};

use crate::auth::ConnAuth;
use crate::errors::token_invalid;

/// How often an idle feedback link looks for a new batch.
const POLL: Duration = Duration::from_millis(250);

fn to_amqp(m: &FeedbackMessage) -> Result<Message<Body<Value>>, hublet_core::HubError> {
    let props = Properties {
        message_id: Some(m.lock_token.clone().into()),
        user_id: Some(Binary::from(m.user_id.as_bytes().to_vec())),
        content_type: Some(Symbol::from(FEEDBACK_CONTENT_TYPE)),
        content_encoding: Some(Symbol::from("utf-8")),
        absolute_expiry_time: Some(AmqpTimestamp::from_milliseconds(m.expiry_time.0)),
        ..Properties::default()
    };
    let annotations = MessageAnnotations::builder()
        .insert(
            Symbol::from("iothub-enqueuedtime"),
            Value::Timestamp(AmqpTimestamp::from_milliseconds(m.enqueued_time.0)),
        )
        .build();
    Ok(Message::builder()
        .properties(props)
        .message_annotations(annotations)
        .body(Body::Data(vec![Data(Binary::from(m.body()?))].into()))
        .build())
}

/// Serves one feedback link until it ends.
pub async fn serve(hub: Hub, auth: Arc<ConnAuth>, mut link: Sender) -> Option<String> {
    loop {
        if auth.current().is_none() {
            let e = token_invalid("the token expired and no new one was put on $cbs");
            let reason = crate::errors::describe(&e);
            let _ = link.close_with_error(e).await;
            return Some(reason);
        }
        let batch = match hub.feedback().receive_via(Some(auth.via())).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("feedback receive failed: {e}");
                None
            }
        };
        let Some(batch) = batch else {
            tokio::select! {
                e = link.on_detach() => return crate::errors::end_reason(e),
                _ = auth.lapsed() => continue,
                _ = tokio::time::sleep(POLL) => continue,
            }
        };
        let message = match to_amqp(&batch) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("feedback batch {} not sendable: {e}", batch.batch_id);
                let _ = hub.feedback().abandon(&batch.lock_token).await;
                continue;
            }
        };
        let fb = hub.feedback();
        let settled = match link.send(message).await {
            Ok(Outcome::Accepted(_)) => fb.complete(&batch.lock_token).await,
            Ok(Outcome::Rejected(_)) => fb.reject(&batch.lock_token).await,
            Ok(Outcome::Released(_) | Outcome::Modified(_)) => fb.abandon(&batch.lock_token).await,
            Err(e) => {
                let _ = fb.abandon(&batch.lock_token).await;
                return crate::errors::end_reason(e);
            }
            #[allow(unreachable_patterns)]
            Ok(_) => fb.abandon(&batch.lock_token).await,
        };
        if let Err(e) = settled {
            tracing::debug!("feedback batch {} settled late: {e}", batch.batch_id);
        }
    }
}
