//! `pola`: read what the captures show and measure what each model costs.
//!
//! `pola inspect` decodes one capture packet by packet (MQTT, HTTP, ZMTP, raw TCP);
//! `pola report` summarises every capture in `captures/` side by side; `pola bench` measures every
//! model beside the physical floor and an established peer. Each subcommand lives in its module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pola::{bench, certs, inspect, report};

#[derive(Parser)]
#[command(
    name = "pola",
    version,
    about = "Inspect, report on and benchmark pola's captures and models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a capture packet by packet: TCP flags and the application message.
    Inspect(inspect::Args),
    /// Summarise every capture side by side as HTML and Markdown.
    Report(report::Args),
    /// Measure every model against the floor and its peer.
    Bench(bench::Args),
    /// Make the lab CA and the TLS variants' server certificates, unless they exist.
    Certs(certs::Args),
}

fn main() -> ExitCode {
    let cli: Cli = common::parse_args();
    common::run(|| match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Report(args) => report::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Certs(args) => certs::run(args),
    })
}
