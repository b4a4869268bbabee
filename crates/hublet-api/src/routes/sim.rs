//! `/api/sim…`: simulator profiles and fleets.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hublet_sim::{FleetRequest, Simulator};

use super::ApiCaller;
use crate::AppState;
use crate::dto::{
    FleetRequestDto, FleetStartedDto, ProfileDto, SaveProfileRequest, SimFaultRequest, SimStatusDto,
};
use crate::error::ApiError;
use crate::extract::JsonBody;

fn sim(s: &AppState) -> Result<&Simulator, ApiError> {
    s.sim.as_ref().ok_or_else(|| {
        ApiError::http(
            StatusCode::NOT_FOUND,
            "NoSimulator",
            "this hub runs no simulator (it needs an MQTT listener)",
        )
    })
}

pub async fn profiles(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<Json<Vec<ProfileDto>>, ApiError> {
    Ok(Json(
        sim(&s)?
            .profiles()
            .into_iter()
            .map(ProfileDto::from)
            .collect(),
    ))
}

pub async fn profile(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
) -> Result<Json<ProfileDto>, ApiError> {
    let p = sim(&s)?
        .profiles()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ApiError::invalid(format!("no simulator profile named '{name}'")))?;
    Ok(Json(p.into()))
}

pub async fn save_profile(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<SaveProfileRequest>,
) -> Result<Json<ProfileDto>, ApiError> {
    let sim = sim(&s)?;
    sim.save_profile(&name, &req.toml).await?;
    let p = sim
        .profiles()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ApiError::invalid("profile vanished"))?;
    Ok(Json(p.into()))
}

pub async fn delete_profile(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    sim(&s)?.delete_profile(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn devices(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<Json<Vec<SimStatusDto>>, ApiError> {
    Ok(Json(
        sim(&s)?
            .list()
            .into_iter()
            .map(SimStatusDto::from)
            .collect(),
    ))
}

pub async fn start(
    State(s): State<AppState>,
    _c: ApiCaller,
    JsonBody(r): JsonBody<FleetRequestDto>,
) -> Result<(StatusCode, Json<FleetStartedDto>), ApiError> {
    let ids = sim(&s)?
        .start(FleetRequest {
            profile: r.profile,
            count: r.count.map(|c| c as usize),
            prefix: r.prefix,
            seed: r.seed,
            persist: r.persist,
            ids: r.ids,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FleetStartedDto { device_ids: ids }),
    ))
}

/// The simulator, when `id` is one of its running devices (404 otherwise).
fn running<'a>(s: &'a AppState, id: &str) -> Result<&'a Simulator, ApiError> {
    let sim = sim(s)?;
    if !sim.list().iter().any(|d| d.device_id == id) {
        return Err(ApiError::http(
            StatusCode::NOT_FOUND,
            "SimulatedDeviceNotFound",
            format!("'{id}' is not a running simulated device"),
        ));
    }
    Ok(sim)
}

pub async fn stop(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sim = running(&s, &id)?;
    sim.stop(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/sim/devices/{id}/fault`: make a simulated device misbehave now.
pub async fn fault(
    State(s): State<AppState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<SimFaultRequest>,
) -> Result<StatusCode, ApiError> {
    let sim = running(&s, &id)?;
    let fault: hublet_sim::SimFault =
        serde_json::from_value(serde_json::json!(r.fault)).map_err(|_| {
            ApiError::invalid(format!(
                "fault '{}' is not disconnect, drop_link, unresponsive or resume",
                r.fault
            ))
        })?;
    let for_time = match r.for_secs {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
            Some(std::time::Duration::from_secs_f64(s))
        }
        Some(s) => {
            return Err(ApiError::invalid(format!(
                "forSecs {s} is not between 0 and 86400"
            )));
        }
    };
    sim.fault(&id, fault, for_time)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stop_all(
    State(s): State<AppState>,
    _c: ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let n = sim(&s)?.stop_all().await?;
    Ok(Json(serde_json::json!({"stopped": n})))
}
