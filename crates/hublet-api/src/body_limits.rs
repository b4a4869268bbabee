//! Request bodies: refused early when too large, and given a deadline.
//!
//! Every body the API takes is small (at most [`BODY_LIMIT`]), so it is read
//! whole here, before routing: a declared `Content-Length` over the limit is
//! answered 413 without reading a byte, a body that trickles in is cut off
//! with 408 at the deadline, and handlers only ever see complete bodies.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;
use crate::router::BODY_LIMIT;

fn too_large(size: usize) -> Response {
    ApiError::from(hublet_core::HubError::TooLarge {
        what: "the request body",
        size,
        limit: BODY_LIMIT,
    })
    .into_response()
}

/// Reads a request's whole body within `deadline`: the request with its
/// body in memory, or the answer refusing it (run by [`crate::edge`]).
pub(crate) async fn read_whole(req: Request, deadline: Duration) -> Result<Request, Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared
        && n > BODY_LIMIT as u64
    {
        return Err(too_large(usize::try_from(n).unwrap_or(usize::MAX)));
    }
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, BODY_LIMIT).collect();
    let bytes = match tokio::time::timeout(deadline, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(too_large(BODY_LIMIT + 1));
        }
        Ok(Err(e)) => {
            return Err(
                ApiError::invalid(format!("the request body could not be read: {e}"))
                    .into_response(),
            );
        }
        Err(_) => {
            return Err(ApiError::http(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs()
                ),
            )
            .into_response());
        }
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
