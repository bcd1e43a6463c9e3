//! A UDP service as one task: a datagram in, the handler's reply out.

use core::cell::Cell;

use crate::async_sockets::{AsyncStack, AsyncUdpSocket, yield_now};
use crate::services::{DATAGRAM_MAX, DatagramHandler, Report, ServiceStats};
use crate::socket::{BindError, RecvFromError, UdpBuffers};

/// A bound UDP port that answers each datagram to its sender with a
/// [`DatagramHandler`] (the poll-driven [`UdpService`](crate::services::UdpService)'s
/// handlers and counters). Shared by reference, as a [`TcpServer`](super::TcpServer).
pub struct UdpServer<'s, 'a, H: DatagramHandler, const TIMERS: usize = 8> {
    name: &'static str,
    /// Taken by [`serve`](Self::serve).
    socket: Cell<Option<(AsyncUdpSocket<'s, 'a, TIMERS>, H)>>,
    stats: Cell<ServiceStats>,
}

impl<'s, 'a, H: DatagramHandler, const TIMERS: usize> UdpServer<'s, 'a, H, TIMERS> {
    /// Bind `port`.
    pub fn start<const PACKETS: usize, const BYTES: usize>(
        name: &'static str,
        stack: &'s AsyncStack<'a, TIMERS>,
        port: u16,
        buffers: &'a mut UdpBuffers<PACKETS, BYTES>,
        handler: H,
    ) -> Result<Self, BindError> {
        let socket = AsyncUdpSocket::bind(stack, port, buffers)?;
        log::info!("{name}: bound to UDP port {port}");
        Ok(UdpServer {
            name,
            socket: Cell::new(Some((socket, handler))),
            stats: Cell::new(ServiceStats::default()),
        })
    }

    /// The service's counters.
    pub fn stats(&self) -> ServiceStats {
        self.stats.get()
    }

    /// The counters as a printable line.
    pub fn report(&self) -> Report {
        Report {
            name: self.name,
            udp: true,
            stats: self.stats.get(),
        }
    }

    /// ```python
    /// while True:
    ///     data, addr = sk.recvfrom(2048)
    ///     sk.sendto(reply(data), addr)
    /// ```
    ///
    /// Serve forever; a second call waits forever, serving nothing.
    pub async fn serve(&self) -> ! {
        let Some((mut socket, mut handler)) = self.socket.take() else {
            loop {
                core::future::pending::<()>().await;
            }
        };
        let mut buf = [0u8; DATAGRAM_MAX];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((len, from)) => {
                    self.count(|s| {
                        s.accepted += 1;
                        s.bytes_in += len as u64;
                    });
                    let Some(reply) = handler.reply(&mut buf, len) else {
                        continue;
                    };
                    let reply_len = reply.len() as u64;
                    match socket.send_to(reply, from).await {
                        Ok(()) => self.count(|s| {
                            s.answered += 1;
                            s.bytes_out += reply_len;
                        }),
                        Err(e) => {
                            self.count(|s| s.dropped += 1);
                            log::info!("{}: reply to {from} dropped: {e}", self.name);
                        }
                    }
                }
                Err(RecvFromError::Truncated { size, from, .. }) => {
                    self.count(|s| {
                        s.accepted += 1;
                        s.dropped += 1;
                    });
                    log::info!("{}: {size}-byte datagram from {from} dropped", self.name);
                }
                // Nothing else comes from a bound socket without a timeout (the stack
                // was busy: look again after the others had their turn).
                Err(_) => yield_now().await,
            }
        }
    }

    fn count(&self, f: impl FnOnce(&mut ServiceStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }
}
