//! `pola-capture`: the tcpdump sidecar of one model (`MODEL=mqtt`), its healthcheck (`--probe`),
//! the one-shot "every client is done" marker (`--mark-done`) that tells it to stop, and the
//! network faults (`fault drop 10`, run with `docker compose exec` in the hub's namespace).
//! Compose runs all of them from the same `FROM scratch` image, which has no shell.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pola_capture::fault::{self, Fault, Tools};
use pola_capture::sidecar::{self, Config, Outcome};

/// Captures one pola model with tcpdump and writes captures/<model>.pcap only if it is complete.
#[derive(Parser, Debug)]
#[command(name = "pola-capture", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// The model to capture: mqtt, tcp, rest, reqrep, pushpull or pubsub (sets file name and filter).
    #[arg(long, env = "MODEL", default_value = "mqtt")]
    model: String,
    /// The interface to capture on: the hub's interface on the model's network, not loopback
    /// (where the healthchecks talk).
    #[arg(long, env = "INTERFACE", default_value = "eth0")]
    interface: String,
    /// The BPF filter; by default the model's ports.
    #[arg(long, env = "FILTER")]
    filter: Option<String>,
    /// The pcap's name without `.pcap`; by default the model's (a fault scenario names its own).
    #[arg(long, env = "CAPTURE_NAME")]
    name: Option<String>,
    /// The folder the pcap goes to; the pcap is given to this folder's owner.
    #[arg(long, env = "CAPTURES_DIR", default_value = "/captures")]
    captures_dir: PathBuf,
    /// The file whose appearance means every client is done; by default /state/<model>.done.
    #[arg(long, env = "DONE_FILE")]
    done_file: Option<PathBuf>,
    /// The file written once tcpdump is listening; `--probe` checks it.
    #[arg(long, env = "READY_FILE", default_value = "/tmp/pola-capture.ready")]
    ready_file: PathBuf,
    /// The tcpdump binary.
    #[arg(long, env = "TCPDUMP", default_value = "/usr/bin/tcpdump")]
    tcpdump: PathBuf,
    /// Healthcheck: exit 0 if tcpdump is capturing (the ready file exists), 1 otherwise.
    #[arg(long)]
    probe: bool,
    /// Write the done file and exit: run by the `done-<model>` service after every client exited 0.
    #[arg(long)]
    mark_done: bool,
    /// nftables, for the faults that drop, black-hole or reset.
    #[arg(long, env = "NFT", default_value = "/usr/sbin/nft")]
    nft: PathBuf,
    /// tc, for the faults that shape (rate, delay).
    #[arg(long, env = "TC", default_value = "/usr/sbin/tc")]
    tc: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Inject a network fault on the capture interface and print when it took effect.
    #[command(subcommand)]
    Fault(Fault),
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        let filter = match args.filter {
            Some(filter) => filter,
            None => common::models::find(&args.model)?.filter(),
        };
        let done_file = args
            .done_file
            .unwrap_or_else(|| PathBuf::from(format!("/state/{}.done", args.model)));
        if args.probe {
            return common::probe::probe_ready(&args.ready_file);
        }
        if let Some(Cmd::Fault(fault)) = &args.command {
            let tools = Tools {
                nft: args.nft,
                tc: args.tc,
                interface: args.interface,
            };
            return fault::apply(fault, &tools, &common::Stop::install()?);
        }
        if args.mark_done {
            return std::fs::write(&done_file, b"done\n")
                .with_context(|| format!("writing {}", done_file.display()));
        }
        let config = Config {
            name: args.name.unwrap_or_else(|| args.model.clone()),
            model: args.model,
            interface: args.interface,
            filter,
            dir: args.captures_dir,
            done_file,
            ready_file: args.ready_file,
            tcpdump: args.tcpdump,
        };
        let stop = common::Stop::install()?;
        match sidecar::run(&config, &stop)? {
            Outcome::Complete { pcap, stats } => println!(
                "model={} pcap={} captured={} received={} dropped={} late={}",
                config.model,
                pcap.display(),
                stats.captured,
                stats.received,
                stats.dropped_kernel + stats.dropped_interface,
                stats.unwritten()
            ),
            Outcome::Interrupted { part } => {
                println!("model={} interrupted part={}", config.model, part.display())
            }
        }
        Ok(())
    })
}
