//! `netns-test exec FILE NODE -- CMD...`: build the topology, run one command in a node
//! with this terminal's standard streams, and exit with the command's status (128 +
//! signal number if a signal ended it). For scripts.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

pub(crate) fn exec(file: &Path, node: &str, cmd: &[String]) -> u8 {
    let net = match crate::isolate_and_build(file) {
        Ok(n) => n,
        Err(code) => return code,
    };
    let node = match net.try_node(node) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("netns-test: {e}");
            return 2;
        }
    };
    let Some((prog, args)) = cmd.split_first() else {
        eprintln!("netns-test: exec needs a command after `--`");
        return 2;
    };
    match node.command(prog).args(args).status() {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => u8::try_from(c).unwrap_or(1),
            (_, Some(sig)) => u8::try_from(128 + sig).unwrap_or(255),
            _ => 1,
        },
        Err(e) => {
            eprintln!(
                "netns-test: cannot run `{prog}` in node `{}`: {e}",
                node.name()
            );
            127
        }
    }
}
