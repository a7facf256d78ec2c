//! Reaching the server: `ULAK_URL` read strictly, and the exit codes of the API commands.

use anyhow::{Context, bail};

use super::api::Refused;

/// Exit code: the server refused the request (or a waited-for outcome was not the hoped one).
pub(crate) const REFUSED: u8 = 1;
/// Exit code: bad usage (options, input files, `ULAK_URL`), as clap's own.
pub(crate) const USAGE: u8 = 2;
/// Exit code: the server (or SMSC) could not be reached: connection refused, timed out,
/// name not resolved, connection dropped.
pub(crate) const UNREACHABLE: u8 = 3;

/// The API's base (`…/api/v1`) from `ULAK_URL` / `--url`.
///
/// `host:port` without a scheme is taken as `http://` only for this machine (`localhost`,
/// `127.x.x.x`, `[::1]`), where plain HTTP is the usual setup; for any other host the user must
/// choose, as guessing `http://` would send the API key in clear text over the network.
pub(crate) fn api_base(url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    if url.is_empty() {
        bail!("ULAK_URL (or --url) is empty: give the server's URL, e.g. http://127.0.0.1:8080");
    }
    let full = if url.contains("://") {
        url.to_owned()
    } else {
        let host = url.split(['/', '?', '#']).next().unwrap_or_default();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default(),
        };
        let local = name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !local {
            bail!(
                "ULAK_URL (or --url) {url:?} has no scheme: write https://{url} (or http://{url} \
                 on a trusted network; the API key goes with every request)"
            );
        }
        format!("http://{url}")
    };
    let parsed = reqwest::Url::parse(&full)
        .with_context(|| format!("ULAK_URL (or --url) {url:?} is not a valid URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!(
            "ULAK_URL (or --url) {url:?}: the scheme must be http or https, not {:?}",
            parsed.scheme()
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        bail!("ULAK_URL (or --url) {url:?} has no host");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("ULAK_URL (or --url) {url:?}: give the server's address without ?query or #fragment");
    }
    Ok(format!("{}/api/v1", parsed.as_str().trim_end_matches('/')))
}

/// The server could not be reached: no answer came (exit code [`UNREACHABLE`]).
#[derive(Debug)]
pub(crate) struct Unreachable {
    /// The server's base URL.
    pub(crate) url: String,
    /// The innermost cause, e.g. "Connection refused (os error 111)".
    pub(crate) reason: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot reach the server at {}: {} (is it running? see ULAK_URL)",
            self.url, self.reason
        )
    }
}

impl std::error::Error for Unreachable {}

/// The exit code of a failed command.
pub(crate) fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Refused>().is_some() {
        REFUSED
    } else if e.downcast_ref::<Unreachable>().is_some() {
        UNREACHABLE
    } else {
        USAGE
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::api_base;

    #[test]
    fn the_server_url_is_read_strictly() {
        for (given, base) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v1"),
            ("https://sms.example.com/", "https://sms.example.com/api/v1"),
            (
                "https://example.com/ulak/",
                "https://example.com/ulak/api/v1",
            ),
            // Without a scheme, plain HTTP only on this machine.
            ("127.0.0.1:8080", "http://127.0.0.1:8080/api/v1"),
            ("localhost:8080/", "http://localhost:8080/api/v1"),
            ("[::1]:8080", "http://[::1]:8080/api/v1"),
            (" localhost ", "http://localhost/api/v1"),
        ] {
            assert_eq!(api_base(given).unwrap(), base, "{given}");
        }
        for (given, why) in [
            ("sms.example.com:8080", "has no scheme"),
            ("10.0.0.5:8080", "has no scheme"),
            ("ftp://example.com", "must be http or https"),
            ("http://", "not a valid URL"),
            ("http://127.0.0.1:8080?x=1", "without ?query"),
            ("", "is empty"),
        ] {
            let e = api_base(given).unwrap_err().to_string();
            assert!(e.contains(why), "{given}: {e}");
        }
    }
}
