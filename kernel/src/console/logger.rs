//! The `log` backend: every record goes to the console with the time since boot and its level.

use log::{LevelFilter, Log, Metadata, Record};

use crate::time;

struct ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ms = time::uptime_ms();
        crate::println!(
            "[{:>5}.{:03}] {:<5} {}",
            ms / 1000,
            ms % 1000,
            record.level(),
            record.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: ConsoleLogger = ConsoleLogger;

/// Installs the console logger with `level`.
pub fn init(level: LevelFilter) {
    // Only fails if a logger is already set, which would be a second call: keep the first.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
