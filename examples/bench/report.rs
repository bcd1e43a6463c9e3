//! The report: the figures as a table (the README's Performance section quotes it) or as
//! one JSON object (`--json`).

use crate::{BUF, DEPTH, FRAME, POOL};

/// One workload's figures: sockless, raw smoltcp and the kernel, in the workload's unit.
pub struct Figure {
    pub sockless: f64,
    /// The same workload directly on smoltcp (`raw_smoltcp.rs`).
    pub raw: f64,
    pub kernel: f64,
}

impl Figure {
    /// sockless / kernel.
    fn ratio(&self) -> f64 {
        self.sockless / self.kernel
    }

    /// sockless / raw smoltcp: what the facade costs (1.0: nothing).
    fn raw_ratio(&self) -> f64 {
        self.sockless / self.raw
    }
}

/// The TAP part's figures: MB/s each way, sockless's `serve` and the kernel's own echo.
pub struct TapFigure {
    pub sockless: f64,
    pub kernel: f64,
    pub mtu: usize,
}

/// The in-process figures: ping-pong, bulk echo, churn, UDP.
pub type Figures = [Figure; 4];

/// The workloads of [`Figures`], in their order: JSON key, name in the table, unit.
const WORKLOADS: [(&str, &str, &str); 4] = [
    ("pingpong", "ping-pong 64 B", "round trips/s"),
    ("bulk", "bulk echo 64 MiB", "MB/s each way"),
    ("churn", "churn", "connections/s"),
    ("udp", "UDP 64 B", "round trips/s"),
];

/// One JSON object with every figure and the setup.
pub fn json(figures: &Figures, tap: Option<&TapFigure>, reps: usize) -> String {
    let mut json = String::from("{");
    for ((key, _, _), f) in WORKLOADS.iter().zip(figures) {
        json += &format!(
            "\"{key}_ratio\": {:.3}, \"{key}_raw_ratio\": {:.3}, \"{key}_sockless\": {:.1}, \"{key}_raw\": {:.1}, \"{key}_kernel\": {:.1}, ",
            f.ratio(),
            f.raw_ratio(),
            f.sockless,
            f.raw,
            f.kernel
        );
    }
    if let Some(TapFigure {
        sockless,
        kernel,
        mtu,
    }) = tap
    {
        json += &format!(
            "\"tap_gbit_s\": {:.3}, \"tap_mb_s\": {sockless:.1}, \"tap_kernel_mb_s\": {kernel:.1}, \"tap_mtu\": {mtu}, ",
            sockless * 8.0 / 1000.0
        );
    }
    json += &format!(
        "\"frame\": {FRAME}, \"wire_depth\": {DEPTH}, \"socket_buffer\": {BUF}, \"pool\": {POOL}, \"reps\": {reps}}}"
    );
    json
}

/// Print the setup, then a table of the figures with their ratios.
pub fn print_table(figures: &Figures, tap: Option<&TapFigure>, reps: usize) {
    println!(
        "in-process: two smoltcp stacks on the in-memory wire, one thread, virtual time; frames \
         up to {FRAME} B, {DEPTH} frames each way, checksums off, {} KiB socket buffers, \
         {POOL} connections per service",
        BUF / 1024
    );
    println!(
        "kernel: std::net on 127.0.0.1 against an echo server thread, the better of unpinned \
         and all threads on one core"
    );
    println!(
        "raw smoltcp: the same workloads written directly on smoltcp (same wire, sockets and \
         buffers), run in turn with sockless"
    );
    println!(
        "each figure: median of {reps} runs after a warm-up run; ratios: sockless / kernel, \
         sockless / raw smoltcp\n"
    );
    println!(
        "{:<18} {:>11} {:>11} {:>11}  {:<14} {:>9} {:>7}",
        "", "sockless", "raw", "kernel", "unit", "/kernel", "/raw"
    );
    for ((_, name, unit), f) in WORKLOADS.iter().zip(figures) {
        println!(
            "{:<18} {:>11.0} {:>11.0} {:>11.0}  {:<14} {:>9.2} {:>7.2}",
            name,
            f.sockless,
            f.raw,
            f.kernel,
            unit,
            f.ratio(),
            f.raw_ratio()
        );
    }
    if let Some(TapFigure {
        sockless,
        kernel,
        mtu,
    }) = tap
    {
        println!(
            "{:<18} {:>11.0} {:>11} {:>11.0}  {:<14} {:>9.2}   = {:.2} Gbit/s each way (TAP MTU {mtu}, \
             serve --buffer-size 256; kernel: its own echo server in the same namespace)",
            "TAP echo 256 MiB",
            sockless,
            "",
            kernel,
            "MB/s each way",
            sockless / kernel,
            sockless * 8.0 / 1000.0
        );
    }
}
