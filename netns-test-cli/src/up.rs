//! `netns-test up FILE`: build a topology and read commands, one per line, from the
//! terminal or a pipe. The network lives in this process's namespaces: it disappears
//! when the prompt exits, or when the process is killed, whatever the signal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use signal_hook::consts::SIGINT;

use netns_test::Net;

const HELP: &str = "\
commands:
  NODE CMD [ARGS...]    run a command in a node; an argument that names a node
                        stands for that node's first address (`ns1 ping -c1 ns2`)
  shell NODE            an interactive shell ($SHELL, else /bin/sh) in a node
  nodes                 the nodes
  links                 every interface: node, name, state, MTU, MAC
  addrs                 every address, per node and interface
  routes                every node's routes (`ip route` in each node)
  cut NODE:IFACE        cut the link with that end (both ends down, as if the cable
                        were pulled)
  restore NODE:IFACE    put it back as the topology has it: ends up, addresses, and
                        the routes the kernel dropped with it
  partition NODE...     cut every link with exactly one end in these nodes
  heal                  restore every link cut so far
  down NODE IFACE       set one interface down (`ip link set down`)
  up NODE IFACE         set it up again (`ip link set up`: routes the kernel dropped
                        when it went down stay dropped; `restore` brings them back)
  help                  this text
  exit                  leave (the topology is destroyed); so does Ctrl-D
Ctrl-C stops the command running in a node; the topology stays.";

pub(crate) fn up(file: &Path) -> u8 {
    let net = match crate::isolate_and_build(file) {
        Ok(n) => n,
        Err(code) => return code,
    };
    // The terminal sends Ctrl-C to its whole foreground process group: to a command
    // running in a node, and to this process. This process only notes it, so that the
    // topology outlives it; a command started here gets the default action back when
    // it is executed.
    let interrupted = Arc::new(AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(SIGINT, Arc::clone(&interrupted)) {
        eprintln!("netns-test: Ctrl-C will end this prompt and its topology: {e}");
    }
    let names: Vec<&str> = net.nodes().map(|n| n.name()).collect();
    let interactive = std::io::stdin().is_terminal();
    outln!(
        "{} is up: nodes {}. Type `help` for commands, `exit` to leave.",
        file.display(),
        names.join(", ")
    );
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut status = 0;
    loop {
        if interactive {
            out!("netns-test> ");
        }
        let _ = std::io::stdout().flush();
        let line = match lines.next() {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                eprintln!("netns-test: reading the prompt: {e}");
                status = 1;
                break;
            }
            None => break,
        };
        let words = match split_words(&line) {
            Ok(w) => w,
            Err(msg) => {
                eprintln!("error: {msg}");
                continue;
            }
        };
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if words.first().is_some_and(|w| *w == "exit" || *w == "quit") {
            break;
        }
        if let Err(msg) = command(&net, &words) {
            eprintln!("error: {msg}");
        }
    }
    if interactive {
        outln!();
    }
    status
}

fn command(net: &Net, words: &[&str]) -> Result<(), String> {
    let Some((first, rest)) = words.split_first() else {
        return Ok(());
    };
    match (*first, rest) {
        ("help" | "?", _) => outln!("{HELP}"),
        ("nodes", []) => {
            for n in net.nodes() {
                outln!("{}", n.name());
            }
        }
        ("links", []) => links(net)?,
        ("addrs", []) => addrs(net)?,
        ("routes", []) => routes(net)?,
        ("down" | "up", [node, iface]) => {
            let node = net.try_node(node).map_err(|e| e.to_string())?;
            node.set_link_up(iface, *first == "up")
                .map_err(|e| e.to_string())?;
            outln!("{}:{iface} is {first}", node.name());
            let end = format!("{}:{iface}", node.name());
            if *first == "up" && net.topology().link_with_end(&end).is_some() {
                outln!(
                    "(routes through it that the kernel dropped when it went down stay \
                     dropped: `restore {end}` puts the link back with them)"
                );
            }
        }
        ("cut", [end]) => {
            net.cut_link(end).map_err(|e| e.to_string())?;
            outln!("the link of {end} is cut");
        }
        ("restore", [end]) => {
            net.restore_link(end).map_err(|e| e.to_string())?;
            outln!("the link of {end} is back, with its addresses and routes");
        }
        ("partition", side) if !side.is_empty() => {
            let cut = net.partition(side).map_err(|e| e.to_string())?;
            if cut.is_empty() {
                outln!("no link crosses: nothing cut");
            } else {
                outln!("cut {}", cut.join(", "));
            }
        }
        ("heal", []) => {
            net.heal().map_err(|e| e.to_string())?;
            outln!("every cut link is back");
        }
        ("cut" | "restore", _) => return Err(format!("usage: {first} NODE:IFACE")),
        ("partition", _) => return Err("usage: partition NODE [NODE...]".into()),
        ("heal", _) => return Err("usage: heal".into()),
        ("down" | "up", _) => return Err(format!("usage: {first} NODE IFACE")),
        ("shell", [node]) => {
            let node = net.try_node(node).map_err(|e| e.to_string())?;
            let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
            outln!("(in node {}; exit the shell to come back)", node.name());
            node.command(&shell)
                .status()
                .map_err(|e| format!("cannot start {shell}: {e}"))?;
        }
        ("shell", _) => return Err("usage: shell NODE".into()),
        (node, cmd) if net.try_node(node).is_ok() => {
            let Some((prog, args)) = cmd.split_first() else {
                return Err(format!("usage: {node} CMD [ARGS...]"));
            };
            let args: Vec<String> = args.iter().map(|a| resolve(net, a)).collect();
            let status = net
                .node(node)
                .command(prog)
                .args(&args)
                .status()
                .map_err(|e| format!("cannot run `{prog}` in {node}: {e}"))?;
            if !status.success() {
                outln!("({prog} exited with {status})");
            }
        }
        (other, _) => {
            let nodes: Vec<&str> = net.nodes().map(|n| n.name()).collect();
            return Err(format!(
                "unknown command or node `{other}`; nodes: {}; type `help` for commands",
                nodes.join(", ")
            ));
        }
    }
    Ok(())
}

/// Splits a line into words as a shell would for simple cases: whitespace separates,
/// `'...'` and `"..."` quote, `\\` escapes the next character.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(next) = chars.next() {
                    word.get_or_insert_with(String::new).push(next);
                }
            }
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated quote: a {q} is not closed"));
    }
    words.extend(word);
    Ok(words)
}

/// A node's name stands for its first address, as in Mininet's `h1 ping h2`.
fn resolve(net: &Net, arg: &str) -> String {
    match net.try_node(arg).ok().and_then(|n| n.addresses().ok()) {
        Some(addrs) if !addrs.is_empty() => addrs[0].to_string(),
        _ => arg.to_owned(),
    }
}

fn links(net: &Net) -> Result<(), String> {
    outln!(
        "{:<12} {:<16} {:<5} {:<6} MAC",
        "NODE",
        "IFACE",
        "STATE",
        "MTU"
    );
    for n in net.nodes() {
        for i in n.interfaces().map_err(|e| e.to_string())? {
            let state = match (i.up, i.lower_up) {
                (true, true) => "UP",
                (true, false) => "NO-CARRIER",
                _ => "DOWN",
            };
            let mtu = i.mtu.map_or_else(String::new, |m| m.to_string());
            let mac = i.mac.map_or_else(String::new, |m| m.to_string());
            outln!(
                "{:<12} {:<16} {:<5} {:<6} {mac}",
                n.name(),
                i.name,
                state,
                mtu
            );
        }
    }
    Ok(())
}

fn addrs(net: &Net) -> Result<(), String> {
    for n in net.nodes() {
        for i in n.interfaces().map_err(|e| e.to_string())? {
            let a: Vec<String> = i.addresses.iter().map(ToString::to_string).collect();
            if !a.is_empty() {
                outln!("{:<12} {:<16} {}", n.name(), i.name, a.join(" "));
            }
        }
    }
    Ok(())
}

fn routes(net: &Net) -> Result<(), String> {
    for n in net.nodes() {
        let out = n
            .command("ip")
            .arg("route")
            .output()
            .map_err(|e| format!("`routes` runs iproute2's `ip route` in each node: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            outln!("{:<12} {line}", n.name());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn words_and_quotes() {
        let w = split_words(r#"ns2 sh -c 'exit 3' "a b" c\ d ''"#).unwrap();
        assert_eq!(w, ["ns2", "sh", "-c", "exit 3", "a b", "c d", ""]);
        assert!(split_words("echo 'open").is_err());
        assert!(split_words("   ").unwrap().is_empty());
    }
}
