//! `run` steps: a program started inside a node, its exit status and output compared
//! with what the step expects. The program is killed if it outlives its timeout.

use std::io::Read;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use netns_test_topology::{RunCheck, format_duration};

use super::StepOutcome;
use super::steps::{fail, pass};
use crate::net::Net;

/// Output longer than this is cut in the report.
const SHOWN: usize = 2000;

pub(super) fn run(net: &Net, r: &RunCheck) -> StepOutcome {
    let mut expected = format!("exit status {}", r.status);
    if let Some(s) = &r.stdout {
        expected.push_str(&format!(", stdout containing {s:?}"));
    }
    if let Some(s) = &r.stderr {
        expected.push_str(&format!(", stderr containing {s:?}"));
    }
    let node = match net.try_node(&r.node) {
        Ok(n) => n,
        Err(e) => return fail(expected, e.to_string()),
    };
    let (prog, args) = match r.cmd.split_first() {
        Some(x) => x,
        None => return fail(expected, "an empty command"),
    };
    let child = node
        .command(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail(expected, format!("could not start `{prog}`: {e}")),
    };
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait(&mut child, r.timeout);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let status = match status {
        Ok(Some(s)) => s,
        Ok(None) => {
            return fail(
                expected,
                format!("still running after {}; killed", format_duration(r.timeout)),
            );
        }
        Err(e) => return fail(expected, format!("could not wait for `{prog}`: {e}")),
    };
    let code = status.code();
    let mut problems = Vec::new();
    if code != Some(r.status) {
        problems.push(describe(status));
    }
    if let Some(want) = &r.stdout {
        if !stdout.contains(want.as_str()) {
            problems.push(format!("stdout without {want:?}:\n{}", shown(&stdout)));
        }
    }
    if let Some(want) = &r.stderr {
        if !stderr.contains(want.as_str()) {
            problems.push(format!("stderr without {want:?}:\n{}", shown(&stderr)));
        }
    }
    if problems.is_empty() {
        return pass(describe(status));
    }
    if code != Some(r.status) && !stderr.trim().is_empty() && r.stderr.is_none() {
        problems.push(format!("stderr:\n{}", shown(&stderr)));
    }
    fail(expected, problems.join("\n"))
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

fn shown(s: &str) -> String {
    let s = s.trim_end();
    if s.is_empty() {
        return "(empty)".to_owned();
    }
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}... ({} more bytes)", &s[..i], s.len() - i),
        None => s.to_owned(),
    }
}

/// Waits for the child up to `timeout`; kills it and returns `None` past that.
fn wait(child: &mut std::process::Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = crate::deadline(Instant::now(), timeout);
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
