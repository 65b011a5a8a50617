//! `netns-test`: run scenario files, check them, stand inside a topology, draw it, and
//! see what this machine supports. Every network it builds lives in throwaway
//! namespaces of its own process (no root, nothing left behind).
#![forbid(unsafe_code)]

/// `print!` that ends the program quietly (status 141, as a shell reports SIGPIPE) when
/// standard output is gone, e.g. `netns-test graph x.toml | head`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(141);
        }
    }};
}

/// `println!` with [`out!`]'s handling of a closed standard output.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

mod check;
mod doctor;
mod exec;
mod graph;
mod run;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Reproduce network topologies in throwaway, rootless namespaces.
#[derive(Debug, Parser)]
#[command(name = "netns-test", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build each topology, run the steps of its `checks` tables, and report each.
    Run {
        /// Scenario files (topology files with `checks` tables).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Keep running the steps of a scenario after one fails.
        #[arg(long)]
        keep_going: bool,
    },
    /// Validate topology files without building them.
    Check {
        /// Topology files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Build a topology and open a prompt inside it (`help` lists the commands).
    Up {
        /// The topology file.
        file: PathBuf,
    },
    /// Build a topology, run one command in a node, and exit with its status.
    Exec {
        /// The topology file.
        file: PathBuf,
        /// The node to run the command in.
        node: String,
        /// The command and its arguments (after `--`).
        #[arg(required = true, last = true)]
        cmd: Vec<String>,
    },
    /// Draw a topology: Graphviz DOT, SVG (through `dot`), or text for the terminal.
    Graph {
        /// The topology file.
        file: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show what this machine supports: user namespaces, link kinds, qdiscs, nftables.
    Doctor,
    /// Runs one scenario in an isolated child (used by `run`).
    #[command(hide = true, name = "__run-one")]
    RunOne {
        file: PathBuf,
        #[arg(long)]
        keep_going: bool,
    },
}

/// `graph` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Graphviz DOT.
    Dot,
    /// SVG, rendered by Graphviz's `dot`.
    Svg,
    /// A compact drawing for the terminal.
    Text,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run { files, keep_going } => run::run(&files, keep_going),
        Command::RunOne { file, keep_going } => run::run_one(&file, keep_going),
        Command::Check { files } => check::check(&files),
        Command::Up { file } => up::up(&file),
        Command::Exec { file, node, cmd } => exec::exec(&file, &node, &cmd),
        Command::Graph { file, format } => graph::graph(&file, format),
        Command::Doctor => doctor::doctor(),
    };
    ExitCode::from(code)
}

/// Isolates this process and builds the topology in `file`; prints why not on error.
fn isolate_and_build(file: &std::path::Path) -> Result<netns_test::Net, u8> {
    if let Err(e) = netns_test::isolate() {
        eprintln!("netns-test: {e}");
        return Err(2);
    }
    let topology = match netns_test::load(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}", error_text(&e));
            return Err(2);
        }
    };
    netns_test::Net::build(topology).map_err(|e| {
        eprintln!("{} (building {})", error_text(&e), file.display());
        2
    })
}

/// An error as the user should read it: topology diagnostics exactly as the macro
/// prints them; anything else prefixed with the program's name.
fn error_text(e: &netns_test::Error) -> String {
    match e {
        netns_test::Error::Topology(d) => d.to_string(),
        other => {
            let mut text = format!("netns-test: {other}");
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                text.push_str(&format!(": {s}"));
                src = s.source();
            }
            text
        }
    }
}
