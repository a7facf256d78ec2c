//! Settings in layers: built-in defaults, then `ulak.toml`, then `ULAK_*` environment
//! variables, then command-line flags (each layer overrides the one before).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ulak_core::net::Cidr;

/// The server's settings after all layers are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Directory for the embedded database and generated keys.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// Base64 of the 32-byte key that encrypts secrets at rest; generated into
    /// `data_dir/master.key` on first start when absent.
    pub master_key: Option<String>,
    /// On first start, the system administrator's API key (for automation).
    pub bootstrap_api_key: Option<String>,
    /// `tracing` filter, e.g. `info` or `ulak=debug`.
    pub log: String,
    /// Largest request body accepted, in bytes (imports are the large ones).
    pub max_body_bytes: usize,
    /// Send: run the delivery engine in this process (off for API-only nodes).
    pub engine: bool,
    /// Run the built-in SMSC simulator that `simulator` provider accounts send to.
    pub simulator: bool,
    /// Where the built-in simulator listens (port 0: any free port, loopback only by default).
    pub simulator_listen: SocketAddr,
    /// This node's name in message leases; stable across restarts so a restarted node takes
    /// back at once what it was sending. Default: host name and listen port.
    pub node_id: Option<String>,
    /// Open HTTP connections at most; a new one beyond it closes the oldest idle one (or is
    /// closed when none is idle). Also capped below the open-file limit.
    pub max_connections: usize,
    /// Seconds a request's head may take to arrive once its first byte came.
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may wait for its next request (keep-alive) or its first one.
    pub idle_timeout_secs: u64,
    /// Seconds a whole request may take, body included (408 after).
    pub request_timeout_secs: u64,
    /// Requests per second per API key (twice that in a burst); 0: no limit.
    pub rate_limit_per_key: u32,
    /// Requests per second per source address (IPv6: per /64; twice that in a burst; health
    /// checks are not counted); 0: no limit.
    pub rate_limit_per_ip: u32,
    /// Unknown API keys a source address may present per minute before it gets 429 without
    /// its key being verified (a key that verified on this node within a day still passes);
    /// 0: no limit.
    pub auth_failures_per_minute: u32,
    /// Address blocks webhook deliveries and operator links may reach besides public
    /// addresses (loopback, private networks…); empty by default. Only the system
    /// administrator sets it: company administrators choose the targets.
    pub outbound_allow: Vec<Cidr>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (address blocks); empty by
    /// default: the address that connected is the client's. Per-address rate limits and
    /// sign-in lockouts count the client, so behind a proxy this must name it.
    pub trusted_proxies: Vec<Cidr>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("ulak-data"),
            database_url: None,
            master_key: None,
            bootstrap_api_key: None,
            log: "info".to_owned(),
            max_body_bytes: 64 * 1024 * 1024,
            engine: true,
            simulator: true,
            simulator_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            node_id: None,
            max_connections: 10_000,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            request_timeout_secs: 300,
            rate_limit_per_key: 500,
            rate_limit_per_ip: 1_000,
            auth_failures_per_minute: 30,
            outbound_allow: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// One layer: any subset of the settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// See [`Settings::listen`].
    pub listen: Option<SocketAddr>,
    /// See [`Settings::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`Settings::database_url`].
    pub database_url: Option<String>,
    /// See [`Settings::master_key`].
    pub master_key: Option<String>,
    /// See [`Settings::bootstrap_api_key`].
    pub bootstrap_api_key: Option<String>,
    /// See [`Settings::log`].
    pub log: Option<String>,
    /// See [`Settings::max_body_bytes`].
    pub max_body_bytes: Option<usize>,
    /// See [`Settings::engine`].
    pub engine: Option<bool>,
    /// See [`Settings::simulator`].
    pub simulator: Option<bool>,
    /// See [`Settings::simulator_listen`].
    pub simulator_listen: Option<SocketAddr>,
    /// See [`Settings::node_id`].
    pub node_id: Option<String>,
    /// See [`Settings::max_connections`].
    pub max_connections: Option<usize>,
    /// See [`Settings::header_read_timeout_secs`].
    pub header_read_timeout_secs: Option<u64>,
    /// See [`Settings::idle_timeout_secs`].
    pub idle_timeout_secs: Option<u64>,
    /// See [`Settings::request_timeout_secs`].
    pub request_timeout_secs: Option<u64>,
    /// See [`Settings::rate_limit_per_key`].
    pub rate_limit_per_key: Option<u32>,
    /// See [`Settings::rate_limit_per_ip`].
    pub rate_limit_per_ip: Option<u32>,
    /// See [`Settings::auth_failures_per_minute`].
    pub auth_failures_per_minute: Option<u32>,
    /// See [`Settings::outbound_allow`].
    pub outbound_allow: Option<Vec<Cidr>>,
    /// See [`Settings::trusted_proxies`].
    pub trusted_proxies: Option<Vec<Cidr>>,
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown keys.
    #[error("invalid {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment variable holds an invalid value.
    #[error("invalid {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl Layer {
    /// Reads a TOML file; a missing default file is an empty layer, a missing named one an error.
    pub fn from_file(path: &Path, required: bool) -> Result<Layer, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Layer::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let layer: Layer = toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        layer.check(path)?;
        Ok(layer)
    }

    /// Reads `ULAK_*` variables from the given pairs (the process environment in production).
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        for (name, value) in vars {
            let bad = |message: String| ConfigError::Env {
                name: name.clone(),
                message,
            };
            match name.as_str() {
                "ULAK_LISTEN" => {
                    layer.listen = Some(value.parse().map_err(|e| bad(format!("{e}")))?);
                }
                "ULAK_DATA_DIR" => layer.data_dir = Some(PathBuf::from(value)),
                "ULAK_DATABASE_URL" => layer.database_url = Some(value),
                "ULAK_MASTER_KEY" => layer.master_key = Some(value),
                "ULAK_BOOTSTRAP_API_KEY" => layer.bootstrap_api_key = Some(value),
                "ULAK_LOG" => layer.log = Some(value),
                "ULAK_MAX_BODY_BYTES" => {
                    layer.max_body_bytes = Some(value.parse().map_err(|e| bad(format!("{e}")))?);
                }
                "ULAK_ENGINE" => layer.engine = Some(parse_bool(&value).map_err(bad)?),
                "ULAK_SIMULATOR" => layer.simulator = Some(parse_bool(&value).map_err(bad)?),
                "ULAK_NODE_ID" => layer.node_id = Some(value),
                "ULAK_SIMULATOR_LISTEN" => {
                    layer.simulator_listen = Some(value.parse().map_err(|e| bad(format!("{e}")))?);
                }
                "ULAK_MAX_CONNECTIONS" => layer.max_connections = Some(number(&value, 1, bad)?),
                "ULAK_HEADER_READ_TIMEOUT_SECS" => {
                    layer.header_read_timeout_secs = Some(number(&value, 1, bad)?);
                }
                "ULAK_IDLE_TIMEOUT_SECS" => layer.idle_timeout_secs = Some(number(&value, 1, bad)?),
                "ULAK_REQUEST_TIMEOUT_SECS" => {
                    layer.request_timeout_secs = Some(number(&value, 1, bad)?);
                }
                "ULAK_RATE_LIMIT_PER_KEY" => {
                    layer.rate_limit_per_key = Some(number(&value, 0, bad)?)
                }
                "ULAK_RATE_LIMIT_PER_IP" => layer.rate_limit_per_ip = Some(number(&value, 0, bad)?),
                "ULAK_AUTH_FAILURES_PER_MINUTE" => {
                    layer.auth_failures_per_minute = Some(number(&value, 0, bad)?);
                }
                "ULAK_OUTBOUND_ALLOW" => layer.outbound_allow = Some(cidrs(&value, bad)?),
                "ULAK_TRUSTED_PROXIES" => layer.trusted_proxies = Some(cidrs(&value, bad)?),
                _ => {}
            }
        }
        Ok(layer)
    }

    /// Applies this layer over `settings`.
    pub fn apply(self, settings: &mut Settings) {
        if let Some(v) = self.listen {
            settings.listen = v;
        }
        if let Some(v) = self.data_dir {
            settings.data_dir = v;
        }
        if let Some(v) = self.database_url {
            settings.database_url = Some(v);
        }
        if let Some(v) = self.master_key {
            settings.master_key = Some(v);
        }
        if let Some(v) = self.bootstrap_api_key {
            settings.bootstrap_api_key = Some(v);
        }
        if let Some(v) = self.log {
            settings.log = v;
        }
        if let Some(v) = self.max_body_bytes {
            settings.max_body_bytes = v;
        }
        if let Some(v) = self.engine {
            settings.engine = v;
        }
        if let Some(v) = self.simulator {
            settings.simulator = v;
        }
        if let Some(v) = self.simulator_listen {
            settings.simulator_listen = v;
        }
        if let Some(v) = self.node_id {
            settings.node_id = Some(v);
        }
        let numbers = [
            (
                self.header_read_timeout_secs,
                &mut settings.header_read_timeout_secs,
            ),
            (self.idle_timeout_secs, &mut settings.idle_timeout_secs),
            (
                self.request_timeout_secs,
                &mut settings.request_timeout_secs,
            ),
        ];
        for (v, slot) in numbers {
            if let Some(v) = v {
                *slot = v;
            }
        }
        let rates = [
            (self.rate_limit_per_key, &mut settings.rate_limit_per_key),
            (self.rate_limit_per_ip, &mut settings.rate_limit_per_ip),
            (
                self.auth_failures_per_minute,
                &mut settings.auth_failures_per_minute,
            ),
        ];
        for (v, slot) in rates {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(v) = self.max_connections {
            settings.max_connections = v;
        }
        if let Some(v) = self.outbound_allow {
            settings.outbound_allow = v;
        }
        if let Some(v) = self.trusted_proxies {
            settings.trusted_proxies = v;
        }
    }

    /// Checks what a file may hold that the types do not: limits and time-outs of at least 1.
    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let zero = [
            ("max_connections", self.max_connections == Some(0)),
            (
                "header_read_timeout_secs",
                self.header_read_timeout_secs == Some(0),
            ),
            ("idle_timeout_secs", self.idle_timeout_secs == Some(0)),
            ("request_timeout_secs", self.request_timeout_secs == Some(0)),
        ];
        match zero.iter().find(|(_, z)| *z) {
            Some((name, _)) => Err(ConfigError::File {
                path: path.to_owned(),
                message: format!("{name} must be at least 1"),
            }),
            None => Ok(()),
        }
    }
}

/// A whole number of at least `min`.
fn number<T>(v: &str, min: T, bad: impl Fn(String) -> ConfigError) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let n: T = v.trim().parse().map_err(|e| bad(format!("{e}")))?;
    if n < min {
        return Err(bad(format!("must be at least {min}")));
    }
    Ok(n)
}

/// Address blocks, separated by commas or spaces.
fn cidrs(v: &str, bad: impl Fn(String) -> ConfigError) -> Result<Vec<Cidr>, ConfigError> {
    v.split([',', ' '])
        .filter(|b| !b.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("{e}")))
}

/// `true`/`false` as people write them in environment variables.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

impl Settings {
    /// Defaults, then the file (`path`, or `./ulak.toml` when it exists), then the environment,
    /// then `flags`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: Layer,
    ) -> Result<Settings, ConfigError> {
        let mut settings = Settings::default();
        let file = match path {
            Some(p) => Layer::from_file(p, true)?,
            None => Layer::from_file(Path::new("ulak.toml"), false)?,
        };
        file.apply(&mut settings);
        Layer::from_env(env)?.apply(&mut settings);
        flags.apply(&mut settings);
        Ok(settings)
    }

    /// The node id in force: the configured one, or host name and listen port.
    pub fn node_id(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "ulak".to_owned());
            format!("{host}:{}", self.listen.port())
        })
    }

    /// The database URL in force: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ulak.db").display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn later_layers_win() {
        let dir = std::env::temp_dir().join(format!("ulak-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ulak.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\ndata_dir = \"/tmp/a\"\n",
        )
        .unwrap();
        let env = vec![
            ("ULAK_LOG".to_owned(), "warn".to_owned()),
            ("ULAK_DATA_DIR".to_owned(), "/tmp/b".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let flags = Layer {
            data_dir: Some(PathBuf::from("/tmp/c")),
            ..Layer::default()
        };
        let s = Settings::load(Some(&file), env, flags).unwrap();
        assert_eq!(s.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(s.log, "warn");
        assert_eq!(s.data_dir, PathBuf::from("/tmp/c"));
        assert_eq!(s.database_url(), "sqlite:///tmp/c/ulak.db?mode=rwc");
    }

    #[test]
    fn front_door_settings_come_from_every_layer_and_zero_is_refused_where_it_means_nothing() {
        let env = vec![
            ("ULAK_MAX_CONNECTIONS".to_owned(), "300".to_owned()),
            ("ULAK_RATE_LIMIT_PER_KEY".to_owned(), "0".to_owned()),
            ("ULAK_IDLE_TIMEOUT_SECS".to_owned(), "5".to_owned()),
        ];
        let s = Settings::load(None, env, Layer::default()).unwrap();
        assert_eq!(
            (s.max_connections, s.rate_limit_per_key, s.idle_timeout_secs),
            (300, 0, 5)
        );
        assert_eq!(
            s.request_timeout_secs,
            Settings::default().request_timeout_secs
        );
        for name in ["ULAK_MAX_CONNECTIONS", "ULAK_REQUEST_TIMEOUT_SECS"] {
            let e = Layer::from_env(vec![(name.to_owned(), "0".to_owned())]).unwrap_err();
            assert!(e.to_string().contains("at least 1"), "{e}");
        }
        let dir = std::env::temp_dir().join(format!("ulak-cfg-door-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ulak.toml");
        std::fs::write(&file, "header_read_timeout_secs = 0\n").unwrap();
        let e = Settings::load(Some(&file), Vec::new(), Layer::default()).unwrap_err();
        assert!(e.to_string().contains("header_read_timeout_secs"), "{e}");
    }

    #[test]
    fn outbound_allowances_come_from_the_file_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("ulak-cfg-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ulak.toml");
        std::fs::write(&file, "outbound_allow = [\"10.0.0.0/8\", \"fd00::/8\"]\n").unwrap();
        let s = Settings::load(Some(&file), Vec::new(), Layer::default()).unwrap();
        let blocks: Vec<String> = s.outbound_allow.iter().map(ToString::to_string).collect();
        assert_eq!(blocks, ["10.0.0.0/8", "fd00::/8"]);
        let env = vec![(
            "ULAK_OUTBOUND_ALLOW".to_owned(),
            "127.0.0.0/8, ::1".to_owned(),
        )];
        let s = Settings::load(Some(&file), env, Layer::default()).unwrap();
        let blocks: Vec<String> = s.outbound_allow.iter().map(ToString::to_string).collect();
        assert_eq!(blocks, ["127.0.0.0/8", "::1/128"]);
        assert!(Settings::default().outbound_allow.is_empty());
        let e = Layer::from_env(vec![("ULAK_OUTBOUND_ALLOW".to_owned(), "10/8".to_owned())])
            .unwrap_err();
        assert!(
            e.to_string().starts_with("invalid ULAK_OUTBOUND_ALLOW"),
            "{e}"
        );
        std::fs::write(&file, "outbound_allow = [\"everything\"]\n").unwrap();
        assert!(Settings::load(Some(&file), Vec::new(), Layer::default()).is_err());
    }

    #[test]
    fn trusted_proxies_come_from_the_file_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("ulak-cfg-proxy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ulak.toml");
        std::fs::write(&file, "trusted_proxies = [\"127.0.0.1\"]\n").unwrap();
        let s = Settings::load(Some(&file), Vec::new(), Layer::default()).unwrap();
        let blocks: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(blocks, ["127.0.0.1/32"]);
        let env = vec![("ULAK_TRUSTED_PROXIES".to_owned(), "10.0.0.0/8".to_owned())];
        let s = Settings::load(Some(&file), env, Layer::default()).unwrap();
        let blocks: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(blocks, ["10.0.0.0/8"]);
        assert!(Settings::default().trusted_proxies.is_empty());
        let bad = vec![("ULAK_TRUSTED_PROXIES".to_owned(), "nginx".to_owned())];
        assert!(Layer::from_env(bad).is_err());
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let e =
            Layer::from_env(vec![("ULAK_LISTEN".to_owned(), "nowhere".to_owned())]).unwrap_err();
        assert!(e.to_string().starts_with("invalid ULAK_LISTEN"), "{e}");
        let dir = std::env::temp_dir().join(format!("ulak-cfg-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ulak.toml");
        std::fs::write(&file, "lisen = 1\n").unwrap();
        let e = Settings::load(Some(&file), Vec::new(), Layer::default()).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(
            Settings::load(
                Some(&dir.join("missing.toml")),
                Vec::new(),
                Layer::default()
            )
            .is_err()
        );
    }
}
