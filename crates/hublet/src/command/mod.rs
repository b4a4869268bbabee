//! The command tree: one file per verb.

mod c2d;
mod ca;
mod commands;
mod completions;
mod connection_string;
mod db;
mod device;
mod duration;
mod events;
mod feedback;
mod invoke;
mod module;
mod monitor;
mod owned_hub;
mod purge;
mod query;
mod queue;
mod runs;
mod sas;
mod send;
mod serial;
mod serve;
mod settings;
mod sim;
mod test;
mod trace;
mod twin;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Hublet: a local, offline mini IoT hub that behaves like Azure IoT Hub for
/// cloud-to-device messages, feedback and direct methods.
#[derive(Debug, Parser)]
#[command(name = "hublet", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Data directory (database, CA, token, hub.json). Default: the platform's data directory.
    #[arg(long, global = true, env = "HUBLET_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A hub's API URL, instead of the one found in the data directory.
    #[arg(long, global = true, env = "HUBLET_HUB", value_name = "URL")]
    pub hub: Option<String>,
    /// The hub's API token, instead of the data directory's `api-token`.
    #[arg(
        long,
        global = true,
        env = "HUBLET_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Machine-readable JSON output (errors too).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// The data directory in use.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(hublet_core::default_data_dir)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub headless: engine, MQTT gateway, REST API.
    Serve(serve::ServeArgs),
    /// Manage devices: add, list, show, rm, enable, disable, connection-string.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Print a service connection string (for the Azure IoT service SDKs).
    ConnectionString(connection_string::ConnectionStringArgs),
    /// Send a cloud-to-device message.
    Send(send::SendArgs),
    /// Show a device's C2D queue with each message's state.
    Queue(queue::QueueArgs),
    /// Remove every message from a device's C2D queue.
    Purge(purge::PurgeArgs),
    /// Invoke a direct method on a device and print its answer.
    Invoke(invoke::InvokeArgs),
    /// Show delivery feedback records (or follow them live).
    Feedback(feedback::FeedbackArgs),
    /// Query, follow or export the trace.
    Trace(trace::TraceArgs),
    /// The hub's certificate authority.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Simulated devices: run, list, stop, profiles.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Boards on USB / serial: list, bind, release, reclaim, console, send, emulate.
    #[command(subcommand)]
    Serial(serial::SerialCommand),
    /// Act as a device over IoT Hub's HTTP device endpoints: receive and
    /// complete, reject or abandon C2D messages without firmware.
    #[command(subcommand)]
    C2d(c2d::C2dCommand),
    /// Make a SAS token for a device or a shared access policy.
    #[command(subcommand)]
    Sas(sas::SasCommand),
    /// Query the device twins in IoT Hub's query language; prints every row as JSON.
    Query(query::QueryArgs),
    /// A device's (or module's) twin: show, update (merge), replace tags
    /// and desired properties, or watch it change.
    #[command(subcommand)]
    Twin(twin::TwinCommand),
    /// The Event Hub-compatible endpoint: partitions and consumer groups.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Print device-to-cloud messages live, as a back end reading the Event
    /// Hub-compatible endpoint sees them (like `az iot hub monitor-events`).
    Monitor(monitor::MonitorArgs),
    /// Module identities of a device: add, list, show, rm, connection-string.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Show or change the hub's settings.
    Settings {
        #[command(subcommand)]
        command: Option<settings::SettingsCommand>,
    },
    /// The database file: check it for damage (read-only).
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Run QA scenarios (TOML files) against the hub; exit code 0 only when
    /// every case passes. `--junit FILE` writes a JUnit XML report.
    Test(test::TestArgs),
    /// Run a saved command of the hub's library (a method call or a C2D
    /// message) on a device: `hublet run set-point --device t-1 --set sp=22`.
    Run(commands::RunArgs),
    /// The command library: list, show, export, import, rm.
    #[command(subcommand)]
    Commands(commands::CommandsCommand),
    /// QA run records kept by the hub: the latest cases, one batch, or one
    /// case with its steps.
    Runs(runs::RunsArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print or write the man pages.
    Man(completions::ManArgs),
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Serve(a) => serve::run(g, a).await,
        Command::Device(c) => device::run(g, c).await,
        Command::ConnectionString(a) => connection_string::run(g, a).await,
        Command::Send(a) => send::run(g, a).await,
        Command::Queue(a) => queue::run(g, a).await,
        Command::Purge(a) => purge::run(g, a).await,
        Command::Invoke(a) => invoke::run(g, a).await,
        Command::Feedback(a) => feedback::run(g, a).await,
        Command::Trace(a) => trace::run(g, a).await,
        Command::Ca(c) => ca::run(g, c).await,
        Command::Sim(c) => sim::run(g, c).await,
        Command::Serial(c) => serial::run(g, c).await,
        Command::C2d(c) => c2d::run(g, c).await,
        Command::Sas(c) => sas::run(g, c).await,
        Command::Twin(c) => twin::run(g, c).await,
        Command::Module(c) => module::run(g, c).await,
        Command::Monitor(a) => monitor::run(g, a).await,
        Command::Events(c) => events::run(g, c).await,
        Command::Query(a) => query::run(g, a).await,
        Command::Settings { command } => settings::run(g, command).await,
        Command::Db(c) => db::run(g, c).await,
        Command::Test(a) => test::run(g, a).await,
        Command::Runs(a) => runs::run(g, a).await,
        Command::Run(a) => commands::run(g, a).await,
        Command::Commands(c) => commands::list(g, c).await,
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    }
}
