//! The log subscriber every binary installs first: what `lambda_runtime`'s `tracing` feature
//! sets up (`init_default_subscriber`), without its `EnvFilter`, whose directive matching brings
//! `regex-automata` and `regex-syntax` into every zip (issue 18). Levels come from Lambda's
//! advanced logging controls: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (a level, or
//! `target=level` directives, as `tracing_subscriber::filter::Targets` reads them), else INFO;
//! `AWS_LAMBDA_LOG_FORMAT=JSON` writes JSON lines. No timestamps (CloudWatch adds them) and no
//! targets, as before.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for the given `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG` values.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let level = |v: &str| LevelFilter::from_str(v.trim()).ok();
    let directives = rust_log.and_then(|v| Targets::from_str(v).ok()).unwrap_or_default();
    match lambda_level.and_then(level) {
        Some(level) => directives.with_default(level),
        None if directives.default_level().is_some() => directives,
        None => directives.with_default(LevelFilter::INFO),
    }
}

/// Installs the subscriber (once per process; a second call does nothing).
pub fn init() {
    let settings = crate::config::LogSettings::from_env();
    let filter = filter(settings.lambda_level.as_deref(), settings.rust_log.as_deref());
    let json = settings.json;
    let layer = tracing_subscriber::fmt::layer().with_target(false).without_time();
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json { registry.with(layer.json()).try_init() } else { registry.with(layer).try_init() };
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::filter;

    fn allows(f: &tracing_subscriber::filter::Targets, target: &str, level: Level) -> bool {
        f.would_enable(target, &level)
    }

    #[test]
    fn info_is_the_default_level_when_nothing_is_set() {
        let f = filter(None, None);
        assert!(allows(&f, "gatehouse", Level::INFO) && !allows(&f, "gatehouse", Level::DEBUG));
    }

    #[test]
    fn lambdas_log_level_wins_over_rust_log_and_rust_log_directives_still_apply() {
        let f = filter(Some("WARN"), Some("gatehouse=debug"));
        assert!(!allows(&f, "hyper", Level::INFO) && allows(&f, "hyper", Level::WARN));
        assert!(allows(&f, "gatehouse::consumer", Level::DEBUG));
    }

    #[test]
    fn rust_log_alone_sets_a_level_or_directives_over_an_info_default() {
        assert!(allows(&filter(None, Some("debug")), "anything", Level::DEBUG));
        let f = filter(None, Some("gatehouse=trace"));
        assert!(allows(&f, "gatehouse", Level::TRACE) && allows(&f, "other", Level::INFO) && !allows(&f, "other", Level::DEBUG));
    }

    #[test]
    fn an_unreadable_setting_falls_back_to_info() {
        let f = filter(Some("loud"), Some("=?="));
        assert!(allows(&f, "x", Level::INFO) && !allows(&f, "x", Level::DEBUG));
    }
}
