//! What one test's capture and timeout settings are: the attribute's options, else the
//! environment, else the defaults below. Both halves of a test (parent and child)
//! resolve them the same way.

use netns_test_topology::units::{parse_duration_ms, parse_size};
use std::ffi::OsString;
use std::time::Duration;

use crate::__private::TestOptions;

/// When a test's packet trace is written to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CapturePolicy {
    /// Capture, and write the trace whatever the verdict.
    Always,
    /// Capture, and write the trace only when the test fails (the default).
    OnFailure,
    /// Do not capture at all: no sockets, no thread, no summary.
    Never,
}

impl CapturePolicy {
    /// Parses `always`, `on-failure` or `never`.
    pub(crate) fn parse(s: &str) -> Option<CapturePolicy> {
        match s.trim() {
            "always" => Some(CapturePolicy::Always),
            "on-failure" => Some(CapturePolicy::OnFailure),
            "never" => Some(CapturePolicy::Never),
            _ => None,
        }
    }
}

/// The environment variable that overrides the capture policy of tests that do not set
/// one: `always`, `on-failure` or `never`.
pub(crate) const CAPTURE_ENV: &str = "NETNS_TEST_CAPTURE";
/// The default timeout of tests that do not set one (`30s`, `500ms`, `2m`, `none`).
pub(crate) const TIMEOUT_ENV: &str = "NETNS_TEST_TIMEOUT";
/// The default memory cap of a test's capture (`32MiB`, `512KiB`, bytes).
pub(crate) const LIMIT_ENV: &str = "NETNS_TEST_CAPTURE_LIMIT";
/// The default snap length (bytes kept of each packet).
pub(crate) const SNAPLEN_ENV: &str = "NETNS_TEST_SNAPLEN";
/// The default number of packets summarised in a failure message.
pub(crate) const SUMMARY_ENV: &str = "NETNS_TEST_SUMMARY";
/// The root directory of trace files (default: `<target dir>/netns-test`).
pub(crate) const ARTIFACTS_ENV: &str = "NETNS_TEST_ARTIFACTS";

/// A test that hangs fails after this long. Long enough for real integration tests on
/// a loaded CI runner, short enough that a hung test fails (with a trace) before a CI
/// job's own timeout kills everything without one; libtest warns at the same 60 s.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The capture's memory cap: tens of thousands of full-size packets.
pub(crate) const DEFAULT_LIMIT: u64 = 32 * 1024 * 1024;
/// tcpdump's default snap length: whole packets, GSO super-packets included.
pub(crate) const DEFAULT_SNAPLEN: u32 = 262_144;
/// Packets summarised at the end of a failure message.
pub(crate) const DEFAULT_SUMMARY: u32 = 20;

/// One test's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) policy: CapturePolicy,
    pub(crate) snaplen: u32,
    pub(crate) limit: u64,
    pub(crate) summary: u32,
    /// `None`: no timeout.
    pub(crate) timeout: Option<Duration>,
    /// The body is expected to panic (`#[should_panic]`): a panic is its success.
    pub(crate) expects_panic: bool,
    /// `#[should_panic(expected = "...")]`: only a panic whose message holds it is.
    pub(crate) panic_expected: Option<&'static str>,
}

impl Settings {
    /// Resolves the settings from the attribute's `options`, then `env` (a look-up of
    /// environment variables), then the defaults. A malformed environment value is an
    /// error naming the variable.
    pub(crate) fn resolve(
        options: &TestOptions,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, String> {
        // Lossy, so that a value that is not UTF-8 is reported rather than ignored.
        let env = |name: &str| env(name).map(|v| v.to_string_lossy().into_owned());
        let from_env = |name: &str, what: &str, parse: &dyn Fn(&str) -> Option<u64>| {
            env(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| parse(&v).ok_or_else(|| format!("netns-test: {name}={v:?} is not {what}")))
                .transpose()
        };
        let policy = match options.capture.map(CapturePolicy::parse) {
            Some(Some(p)) => p,
            Some(None) => return Err("netns-test: bad `capture` option".to_owned()),
            None => match env(CAPTURE_ENV).filter(|v| !v.trim().is_empty()) {
                None => CapturePolicy::OnFailure,
                Some(v) => CapturePolicy::parse(&v).ok_or_else(|| {
                    format!(
                        "netns-test: {CAPTURE_ENV}={v:?} is not one of `always`, \
                         `on-failure`, `never`"
                    )
                })?,
            },
        };
        let timeout_ms = match options.timeout_ms {
            Some(ms) => Some(ms),
            None => from_env(
                TIMEOUT_ENV,
                "a duration such as `30s`, `500ms`, `2m` or `none`",
                &|v| parse_duration_ms(v),
            )?,
        };
        let timeout = match timeout_ms {
            None => Some(DEFAULT_TIMEOUT),
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
        };
        let limit = match options.capture_limit {
            Some(b) => b,
            None => from_env(LIMIT_ENV, "a size such as `32MiB`, above 0", &|v| {
                parse_size(v).filter(|b| *b > 0)
            })?
            .unwrap_or(DEFAULT_LIMIT),
        };
        let snaplen = match options.snaplen {
            Some(s) => u64::from(s),
            None => from_env(SNAPLEN_ENV, "a byte count from 64 to 262144", &|v| {
                v.trim()
                    .parse()
                    .ok()
                    .filter(|n| (64..=u64::from(DEFAULT_SNAPLEN)).contains(n))
            })?
            .unwrap_or(u64::from(DEFAULT_SNAPLEN)),
        };
        let summary = match options.summary {
            Some(s) => u64::from(s),
            None => from_env(SUMMARY_ENV, "a packet count from 0 to 100000", &|v| {
                v.trim().parse().ok().filter(|n| *n <= 100_000)
            })?
            .unwrap_or(u64::from(DEFAULT_SUMMARY)),
        };
        Ok(Settings {
            policy,
            snaplen: u32::try_from(snaplen).unwrap_or(DEFAULT_SNAPLEN),
            limit,
            summary: u32::try_from(summary).unwrap_or(u32::MAX),
            timeout,
            expects_panic: options.expects_panic,
            panic_expected: options.panic_expected,
        })
    }

    /// Reads the real environment.
    pub(crate) fn from_env(options: &TestOptions) -> Result<Settings, String> {
        Settings::resolve(options, |name| std::env::var_os(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(opts: TestOptions, env: &[(&str, &str)]) -> Result<Settings, String> {
        let env: Vec<(&str, OsString)> = env.iter().map(|(k, v)| (*k, OsString::from(v))).collect();
        resolve_os(opts, &env)
    }

    fn resolve_os(opts: TestOptions, env: &[(&str, OsString)]) -> Result<Settings, String> {
        Settings::resolve(&opts, |k| {
            env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_env_and_attribute_in_that_order() {
        let d = resolve(TestOptions::DEFAULT, &[]).unwrap();
        assert_eq!(d.policy, CapturePolicy::OnFailure);
        assert_eq!(d.timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!((d.snaplen, d.limit, d.summary), (262_144, 32 << 20, 20));

        let env = [
            (CAPTURE_ENV, "always"),
            (TIMEOUT_ENV, "none"),
            (LIMIT_ENV, "1MiB"),
            (SNAPLEN_ENV, "128"),
            (SUMMARY_ENV, "5"),
        ];
        let e = resolve(TestOptions::DEFAULT, &env).unwrap();
        assert_eq!(e.policy, CapturePolicy::Always);
        assert_eq!(e.timeout, None);
        assert_eq!((e.snaplen, e.limit, e.summary), (128, 1 << 20, 5));

        let opts = TestOptions {
            timeout_ms: Some(1500),
            capture: Some("never"),
            snaplen: Some(96),
            capture_limit: Some(4096),
            summary: Some(0),
            expects_panic: true,
            panic_expected: None,
        };
        let a = resolve(opts, &env).unwrap();
        assert_eq!(a.policy, CapturePolicy::Never);
        assert_eq!(a.timeout, Some(Duration::from_millis(1500)));
        assert_eq!((a.snaplen, a.limit, a.summary), (96, 4096, 0));
        assert!(a.expects_panic);
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let e = resolve(TestOptions::DEFAULT, &[(TIMEOUT_ENV, "soon")]).unwrap_err();
        assert!(e.contains("NETNS_TEST_TIMEOUT=\"soon\""), "{e}");
        let e = resolve(TestOptions::DEFAULT, &[(CAPTURE_ENV, "sometimes")]).unwrap_err();
        assert!(e.contains("`on-failure`"), "{e}");
        assert!(resolve(TestOptions::DEFAULT, &[(SNAPLEN_ENV, "10")]).is_err());
        assert!(resolve(TestOptions::DEFAULT, &[(LIMIT_ENV, "3 parsecs")]).is_err());
        // The attribute's limits hold for the environment too.
        let e = resolve(TestOptions::DEFAULT, &[(LIMIT_ENV, "0")]).unwrap_err();
        assert!(
            e.contains("NETNS_TEST_CAPTURE_LIMIT=\"0\"") && e.contains("above 0"),
            "{e}"
        );
        let e = resolve(TestOptions::DEFAULT, &[(SUMMARY_ENV, "100001")]).unwrap_err();
        assert!(e.contains("from 0 to 100000"), "{e}");
        let ok = resolve(TestOptions::DEFAULT, &[(SUMMARY_ENV, "100000")]).unwrap();
        assert_eq!(ok.summary, 100_000);
        // A value that is not UTF-8 is refused, not taken for no value.
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(b"alw\xffys".to_vec());
        let e = resolve_os(TestOptions::DEFAULT, &[(CAPTURE_ENV, bad)]).unwrap_err();
        assert!(e.contains("NETNS_TEST_CAPTURE=\"alw\u{FFFD}ys\""), "{e}");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("2m"), Some(120_000));
        assert_eq!(parse_duration_ms("none"), Some(0));
        assert_eq!(parse_duration_ms("0s"), None);
        assert_eq!(parse_duration_ms("s"), None);
        assert_eq!(parse_duration_ms("10"), None);
        assert_eq!(parse_size("32MiB"), Some(32 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2x"), None);
    }
}
