//! The numbers of the report: medians, ratios, and the machine they were
//! measured on.

use std::time::Duration;

use xshell::Shell;

pub(super) fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

pub(super) fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

pub(super) fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub(super) fn machine(sh: &Shell) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let date = xshell::cmd!(sh, "date -u +%Y-%m-%d")
        .quiet()
        .read()
        .unwrap_or_default();
    let kernel = xshell::cmd!(sh, "uname -r")
        .quiet()
        .read()
        .unwrap_or_default();
    format!("{date}, {cores} cores ({cpu}), Linux {kernel}")
}
