//! The tests libtest is expected to run in this process, in its order: what the fork
//! server builds networks ahead for (see `ns::forkserver::serve`).
//!
//! libtest runs the tests its arguments select sorted by name, starting each as a
//! thread frees up, so with one thread the order is exact and with more it is near. The
//! runner reads the selection from its own arguments, as libtest does (filters,
//! `--exact`, `--skip`, `--ignored`, `--include-ignored`), and passes the names of the
//! `#[netns_test]` functions it selects to the server in [`PLAN_ENV`]. Arguments that
//! are not libtest's (another harness) or `--shuffle` give no plan; a wrong plan costs
//! only networks built for tests that do not come.

use std::collections::HashMap;

use crate::__private::Registered;

/// Set in the fork server's environment: the names of the tests expected, in order,
/// one a line. Set in the runner's own environment, it is passed on as it is (a test
/// of the fork server gives its server a plan that does not come true).
pub(crate) const PLAN_ENV: &str = "__NETNS_TEST_PLAN";

/// The longest plan passed on, in bytes (an environment string may not exceed
/// 128 KiB); a longer one is cut after its last whole name.
const MAX_PLAN: usize = 64 * 1024;

/// Which ignored tests libtest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ignored {
    /// Not ignored ones (the default).
    Skip,
    /// Only ignored ones (`--ignored`).
    Only,
    /// All (`--include-ignored`).
    Include,
}

/// The tests libtest's arguments select.
#[derive(Debug, PartialEq, Eq)]
struct Selection {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    ignored: Ignored,
}

impl Selection {
    /// Reads libtest's arguments (without the program name); `None` for an argument
    /// libtest does not take, or for an order it does not fix (`--shuffle`).
    fn parse(args: impl IntoIterator<Item = String>) -> Option<Selection> {
        let mut s = Selection {
            filters: Vec::new(),
            skip: Vec::new(),
            exact: false,
            ignored: Ignored::Skip,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = if let Some(long) = arg.strip_prefix("--") {
                match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (long, None),
                }
            } else if let Some(short) = arg.strip_prefix('-').filter(|o| !o.is_empty()) {
                // `-Zx` is `-Z x`.
                match short.char_indices().nth(1) {
                    Some((at, _)) => (&short[..at], Some(short[at..].to_owned())),
                    None => (short, None),
                }
            } else {
                s.filters.push(arg);
                continue;
            };
            let takes_value = matches!(
                name,
                "skip" | "logfile" | "test-threads" | "color" | "format" | "Z"
            );
            if inline.is_some() && !takes_value {
                // A flag with a value (`-qx` is `-q -x` to libtest): not one we know.
                return None;
            }
            let mut value = || inline.clone().or_else(|| args.next());
            match name {
                "exact" => s.exact = true,
                "ignored" => s.ignored = Ignored::Only,
                "include-ignored" => s.ignored = Ignored::Include,
                "skip" => s.skip.push(value()?),
                _ if takes_value => {
                    value()?;
                }
                "nocapture"
                | "no-capture"
                | "show-output"
                | "quiet"
                | "q"
                | "test"
                | "bench"
                | "force-run-in-process"
                | "exclude-should-panic"
                | "report-time"
                | "ensure-time"
                | "fail-fast" => {}
                _ => return None,
            }
        }
        Some(s)
    }

    /// Whether libtest runs the test named `name` (`ignored` if it carries `#[ignore]`).
    fn selects(&self, name: &str, ignored: bool) -> bool {
        let hit = |pattern: &String| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        let by_ignore = match self.ignored {
            Ignored::Skip => !ignored,
            Ignored::Only => ignored,
            Ignored::Include => true,
        };
        by_ignore
            && (self.filters.is_empty() || self.filters.iter().any(hit))
            && !self.skip.iter().any(hit)
    }
}

/// The plan for [`PLAN_ENV`]: the runner's own if it has one, else the registered
/// tests its arguments select, in libtest's order.
pub(crate) fn of_this_process() -> String {
    if let Some(given) = std::env::var_os(PLAN_ENV) {
        return given.to_string_lossy().into_owned();
    }
    // Arguments that are not UTF-8 are not libtest's (it would not start).
    let args: Option<Vec<String>> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string().ok())
        .collect();
    let Some(selection) = args.and_then(Selection::parse) else {
        return String::new();
    };
    let names = inventory::iter::<Registered>.into_iter().map(|r| {
        (
            crate::runner::libtest_name(r.module_path, r.name),
            r.ignored,
        )
    });
    plan(&selection, names)
}

/// The names `selection` takes of `tests` (name and whether ignored), sorted as
/// libtest sorts them, one a line, at most [`MAX_PLAN`] bytes.
fn plan(selection: &Selection, tests: impl Iterator<Item = (String, bool)>) -> String {
    let mut names: Vec<String> = tests
        .filter(|(name, ignored)| selection.selects(name, *ignored))
        .map(|(name, _)| name)
        .collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        if out.len() + name.len() + 1 > MAX_PLAN {
            break;
        }
        out.push_str(&name);
        out.push('\n');
    }
    out
}

/// The fork server's side: which test each warm child readies for.
pub(crate) struct Expected {
    /// Every registered test, by libtest's name.
    by_name: HashMap<String, &'static Registered>,
    /// The tests expected, in order ([`PLAN_ENV`]).
    plan: Vec<&'static Registered>,
    /// The first of `plan` that no child readies for yet.
    next: usize,
    /// The test of the latest request, and whether the one before was the same.
    last: Option<&'static Registered>,
    repeated: bool,
}

/// What a warm child was told to ready itself for, and did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Readying {
    /// The test it is expected to serve, if any is.
    pub(crate) test: Option<&'static Registered>,
    /// Whether it built that test's network (it says so when it is ready).
    pub(crate) built: bool,
}

impl Expected {
    /// The plan in the server's environment.
    pub(crate) fn from_env() -> Expected {
        Expected::new(
            inventory::iter::<Registered>,
            &std::env::var(PLAN_ENV).unwrap_or_default(),
        )
    }

    /// The plan `text` (libtest's names, one a line) of the registered `tests`.
    fn new(tests: impl IntoIterator<Item = &'static Registered>, text: &str) -> Expected {
        let by_name: HashMap<String, &'static Registered> = tests
            .into_iter()
            .map(|r| (crate::runner::libtest_name(r.module_path, r.name), r))
            .collect();
        let plan = text
            .lines()
            .filter_map(|n| by_name.get(n).copied())
            .collect();
        Expected {
            by_name,
            plan,
            next: 0,
            last: None,
            repeated: false,
        }
    }

    /// The registered test libtest knows as `name` (as `forkserver::registered`, from
    /// the map made once).
    pub(crate) fn find(&self, name: &str) -> Option<&'static Registered> {
        self.by_name.get(name).copied()
    }

    /// The test a child told to ready itself now will serve: the plan's next, or, while
    /// the same test is asked for again and again (as a benchmark does), that test.
    pub(crate) fn next_test(&mut self) -> Option<&'static Registered> {
        if self.repeated {
            return self.last;
        }
        let test = self.plan.get(self.next).copied()?;
        self.next += 1;
        Some(test)
    }

    /// A request for `test` came. If no child readies for it, the plan went wrong
    /// before it (libtest did not run what it said): children told from now on ready
    /// for the tests after it.
    pub(crate) fn requested(&mut self, test: &'static Registered) {
        self.repeated = self.last.is_some_and(|l| std::ptr::eq(l, test));
        self.last = Some(test);
        let later = self.plan.get(self.next..).unwrap_or_default();
        if let Some(k) = later.iter().position(|t| std::ptr::eq(*t, test)) {
            self.next += k + 1;
        }
    }
}

/// Which of the warm `children` (whether each is ready, and what it was told to ready
/// for, if told) a request for `test` takes: one ready for that test; else, while one
/// still readies for it, none yet (the request waits); else a ready one that built no
/// network, else any ready one (the test drops the network it finds). `None`: wait.
pub(crate) fn choose(
    children: &[(bool, Option<Readying>)],
    test: Option<&'static Registered>,
) -> Option<usize> {
    let serves = |r: &Option<Readying>| {
        r.and_then(|r| r.test)
            .zip(test)
            .is_some_and(|(a, b)| std::ptr::eq(a, b))
    };
    let ready = || children.iter().enumerate().filter(|(_, (ready, _))| *ready);
    if let Some((i, _)) = ready().find(|(_, (_, r))| serves(r)) {
        return Some(i);
    }
    if children.iter().any(|(ready, r)| !ready && serves(r)) {
        return None;
    }
    ready()
        .find(|(_, (_, r))| r.is_none_or(|r| !r.built))
        .or_else(|| ready().next())
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Option<Selection> {
        Selection::parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn libtest_arguments_select_as_libtest_does() {
        let s = parse(&["seeds", "--skip=s3", "--test-threads", "2", "-q"]).unwrap();
        assert_eq!(s.filters, ["seeds"]);
        assert_eq!(s.skip, ["s3"]);
        assert!(s.selects("seeds::s1", false));
        assert!(!s.selects("seeds::s3", false), "skipped");
        assert!(!s.selects("seeds::s2", true), "ignored");
        assert!(!s.selects("nat::s1", false), "filtered out");

        let s = parse(&["--exact", "a::b", "--ignored"]).unwrap();
        assert!(s.selects("a::b", true));
        assert!(!s.selects("a::b", false), "not ignored");
        assert!(!s.selects("a::bc", true), "exact");

        let s = parse(&[
            "--include-ignored",
            "--skip",
            "x",
            "--format=json",
            "-Z",
            "y",
        ])
        .unwrap();
        assert!(s.selects("a", true) && s.selects("b", false) && !s.selects("ax", false));
        assert!(s.filters.is_empty(), "{:?}", s.filters);

        assert!(parse(&["-Zunstable-options", "--format", "json", "-q"]).is_some());

        // Not libtest's arguments, or no fixed order: no plan.
        assert_eq!(parse(&["--only", "pair"]), None);
        assert_eq!(parse(&["--shuffle"]), None);
        assert_eq!(parse(&["--shuffle-seed=7"]), None);
        assert_eq!(parse(&["-qx"]), None);
        assert_eq!(parse(&["--skip"]), None);
    }

    fn nothing() {}

    fn registered(name: &'static str) -> Registered {
        Registered {
            module_path: "it::m",
            name,
            run: nothing,
            plain_host: true,
            topology: || ("[nodes.a]\n", "<inline>"),
            ignored: false,
        }
    }

    #[test]
    fn children_ready_for_the_plan_in_order_and_for_a_repeated_test() {
        let [a, b, c]: [&'static Registered; 3] =
            ["a", "b", "c"].map(|n| &*Box::leak(Box::new(registered(n))));
        // The plan and the requests name tests as libtest does, without the crate; a
        // name no test has is left out.
        let mut e = Expected::new([a, b, c], "m::a\nm::x\nm::b\nit::m::c\nm::c\n");
        let name = |t: Option<&'static Registered>| t.map(|t| t.name);
        assert_eq!(name(e.find("m::b")), Some("b"));
        assert_eq!(name(e.find("it::m::b")), None);
        assert_eq!(name(e.next_test()), Some("a"));
        e.requested(a);
        assert_eq!(name(e.next_test()), Some("b"));
        // `b` never came: after `c`, nothing is planned.
        e.requested(c);
        assert_eq!(name(e.next_test()), None);
        // The same test asked for twice in a row is expected again.
        e.requested(c);
        assert_eq!(name(e.next_test()), Some("c"));
        assert_eq!(name(e.next_test()), Some("c"));
        e.requested(a);
        assert_eq!(name(e.next_test()), None);
    }

    #[test]
    fn a_request_takes_the_child_readied_for_it() {
        let [a, b, c]: [&'static Registered; 3] =
            ["a", "b", "c"].map(|n| &*Box::leak(Box::new(registered(n))));
        let for_test = |t: &'static Registered, built: bool| {
            Some(Readying {
                test: Some(t),
                built,
            })
        };
        let (a_built, b_built, b_plain) =
            (for_test(a, true), for_test(b, true), for_test(b, false));
        // The child readied for the test, though another came first.
        assert_eq!(
            choose(&[(true, b_built), (true, a_built)], Some(a)),
            Some(1)
        );
        assert_eq!(
            choose(&[(true, b_plain), (true, for_test(a, false))], Some(a)),
            Some(1)
        );
        // While the child readied for it is still readying, the test waits for it.
        assert_eq!(choose(&[(true, b_plain), (false, a_built)], Some(a)), None);
        // Else a child that built nothing, before one that built another network.
        assert_eq!(
            choose(&[(true, a_built), (true, b_plain)], Some(c)),
            Some(1)
        );
        assert_eq!(choose(&[(true, a_built), (true, None)], Some(c)), Some(1));
        assert_eq!(choose(&[(true, a_built), (false, None)], Some(c)), Some(0));
        // Nothing ready: wait.
        assert_eq!(choose(&[(false, b_built), (false, None)], Some(a)), None);
        // A test the server does not know takes any ready child.
        assert_eq!(choose(&[(false, None), (true, a_built)], None), Some(1));
    }

    #[test]
    fn a_plan_is_the_selected_names_in_libtests_order() {
        let tests = [
            ("b::z", false),
            ("a::y", false),
            ("b::a", true),
            ("c", false),
        ];
        let tests = || tests.iter().map(|(n, i)| (n.to_string(), *i));
        let s = parse(&["--skip", "c"]).unwrap();
        assert_eq!(plan(&s, tests()), "a::y\nb::z\n");
        let s = parse(&["--include-ignored", "b::"]).unwrap();
        assert_eq!(plan(&s, tests()), "b::a\nb::z\n");
        let many = (0..20_000).map(|i| (format!("test_{i:05}"), false));
        let long = plan(&parse(&[]).unwrap(), many);
        assert!(
            long.len() <= MAX_PLAN && long.ends_with("test_05956\n"),
            "{}",
            long.len()
        );
    }
}
