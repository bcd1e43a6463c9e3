//! The control port, UDP 4444 (the host's 24444), as a task: `stats`, `log LEVEL`, `quit`,
//! with the poll-driven build's replies word for word (tests/firmware.rs reads both).

use core::cell::Cell;

use smoltcp::time::Duration;
use sockless::async_services::AsyncServices;
use sockless::async_sockets::{AsyncStack, AsyncUdpSocket};
use sockless::services::Count;

use crate::ThisBoard;
use crate::board::{Board, NicCounters};

/// Longest reply (the counters).
pub const REPLY: usize = 1024;

/// `label` and `n` at the end of `out`.
#[inline(never)]
fn field(out: &mut heapless::String<REPLY>, label: &str, n: u64) {
    let _ = out.push_str(label);
    let _ = Count(n).write_to(out);
}

/// The counters: one line per service, the driver's, connections busy, uptime, and the
/// call stack's high-water mark.
pub fn stats<const P: usize>(
    out: &mut heapless::String<REPLY>,
    stack: &AsyncStack<'_>,
    services: &AsyncServices<'_, '_, P>,
    nic: &NicCounters,
) {
    for report in &services.reports() {
        let _ = report.write_to(out);
        let _ = out.push('\n');
    }
    let uptime = stack.now().total_micros() as u64 / 1_000_000;
    field(out, "nic       received ", nic.received);
    field(out, " sent ", nic.sent);
    field(out, " rx errors ", nic.rx_errors);
    field(out, " rx oversize ", nic.rx_oversize);
    field(out, " tx full ", nic.tx_full);
    field(out, "\nbusy ", services.busy() as u64);
    field(out, "\nuptime ", uptime);
    field(out, " s\nstack used ", ThisBoard::stack_used() as u64);
    let _ = out.push_str(" B");
}

/// Answer commands until `quit`; then 50 ms more for the reply and the last segments to
/// leave (the other tasks go on meanwhile), the final counters on the console, and the
/// end of the run (QEMU exits with 0).
pub async fn serve<const P: usize>(
    mut socket: AsyncUdpSocket<'static, 'static>,
    stack: &'static AsyncStack<'static>,
    services: &'static AsyncServices<'static, 'static, P>,
    nic: &'static Cell<NicCounters>,
) -> ! {
    let mut command = [0u8; 64];
    loop {
        // A datagram longer than any command is dropped unanswered, as in the poll-driven build.
        let Ok((n, from)) = socket.recv_from(&mut command).await else {
            continue;
        };
        let mut reply = heapless::String::<REPLY>::new();
        let text = core::str::from_utf8(&command[..n]).unwrap_or("");
        let mut words = text.split_ascii_whitespace();
        let mut quit = false;
        match (words.next(), words.next()) {
            (Some("stats"), None) => stats(&mut reply, stack, services, &nic.get()),
            (Some("log"), Some(level)) => match level.parse::<log::LevelFilter>() {
                Ok(level) => {
                    log::set_max_level(level);
                    let _ = reply.push_str("log ");
                    let _ = reply.push_str(level.as_str());
                }
                Err(_) => {
                    let _ = reply.push_str("error: log off|error|warn|info|debug|trace");
                }
            },
            (Some("quit"), None) => {
                quit = true;
                let _ = reply.push_str("bye");
            }
            _ => {
                let _ = reply.push_str("error: commands are stats, log LEVEL, quit");
            }
        }
        if let Err(e) = socket.send_to(reply.as_bytes(), from).await {
            log::warn!("control: reply to {from}: {e}");
        }
        if quit {
            break;
        }
    }
    stack
        .sleep_until(stack.now() + Duration::from_millis(50))
        .await;
    // The run's result, the same text as `stats`: printed in every build.
    let mut text = heapless::String::<REPLY>::new();
    stats(&mut text, stack, services, &nic.get());
    ThisBoard::print(&text);
    ThisBoard::print("bye");
    ThisBoard::exit(true)
}
