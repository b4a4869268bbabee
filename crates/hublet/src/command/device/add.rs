use clap::Args;
use hublet_api::dto::{AuthenticationInput, DeviceDto, KeyInput, NewDeviceRequest};
use reqwest::Method;

use crate::client::Client;
use crate::command::Global;

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Device id (up to 128 ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ ').
    pub id: String,
    /// Register it disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Use this primary key (base64) instead of a generated one.
    #[arg(long, value_name = "BASE64")]
    pub primary_key: Option<String>,
    /// Use this secondary key (base64) instead of a generated one.
    #[arg(long, value_name = "BASE64")]
    pub secondary_key: Option<String>,
}

pub async fn run(g: &Global, a: AddArgs) -> anyhow::Result<()> {
    let c = Client::connect(g)?;
    let req = NewDeviceRequest {
        device_id: a.id,
        status: a.disabled.then(|| "disabled".to_string()),
        authentication: Some(AuthenticationInput {
            kind: Some("sas".into()),
            symmetric_key: Some(KeyInput {
                primary_key: a.primary_key,
                secondary_key: a.secondary_key,
            }),
        }),
        ..NewDeviceRequest::default()
    };
    let d: DeviceDto = c.call(Method::POST, "/api/devices", &req).await?;
    if g.json {
        crate::output::json(&d);
    } else {
        println!("added device '{}'", d.device_id);
        println!(
            "  primary key {}",
            d.authentication.symmetric_key.primary_key
        );
        println!(
            "  connection string: hublet device connection-string {}",
            d.device_id
        );
    }
    Ok(())
}
