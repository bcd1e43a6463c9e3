//! embedded-io-async's `Read` and `Write` (and embedded-io's `ReadReady`, `WriteReady`)
//! on [`AsyncTcpStream`]: what async protocol crates (HTTP servers, MQTT clients) take.
//!
//! `read` is `recv` (`Ok(0)` at end of stream), `write` is `send` (at least one byte, or
//! an error), `flush` waits for the peer's ACK of every byte; errors are [`NetError`],
//! the `errno` Python would raise. `settimeout` bounds each of them.

use super::tcp::{AsyncReadHalf, AsyncTcpStream, AsyncWriteHalf};
use crate::socket::NetError;

impl<const TIMERS: usize> embedded_io_async::ErrorType for AsyncTcpStream<'_, '_, TIMERS> {
    type Error = NetError;
}

impl<const TIMERS: usize> embedded_io_async::Read for AsyncTcpStream<'_, '_, TIMERS> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.recv(buf).await.map_err(|e| NetError::Errno(e.errno()))
    }
}

impl<const TIMERS: usize> embedded_io_async::Write for AsyncTcpStream<'_, '_, TIMERS> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        self.send(buf).await.map_err(|e| NetError::Errno(e.errno()))
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        AsyncTcpStream::flush(self)
            .await
            .map_err(|e| NetError::Errno(e.errno()))
    }
}

impl<const TIMERS: usize> embedded_io_async::ReadReady for AsyncTcpStream<'_, '_, TIMERS> {
    fn read_ready(&mut self) -> Result<bool, NetError> {
        Ok(AsyncTcpStream::read_ready(self))
    }
}

impl<const TIMERS: usize> embedded_io_async::WriteReady for AsyncTcpStream<'_, '_, TIMERS> {
    fn write_ready(&mut self) -> Result<bool, NetError> {
        Ok(AsyncTcpStream::write_ready(self))
    }
}

impl<const TIMERS: usize> embedded_io_async::ErrorType for AsyncReadHalf<'_, '_, TIMERS> {
    type Error = NetError;
}

impl<const TIMERS: usize> embedded_io_async::Read for AsyncReadHalf<'_, '_, TIMERS> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.recv(buf).await.map_err(|e| NetError::Errno(e.errno()))
    }
}

impl<const TIMERS: usize> embedded_io_async::ErrorType for AsyncWriteHalf<'_, '_, TIMERS> {
    type Error = NetError;
}

impl<const TIMERS: usize> embedded_io_async::Write for AsyncWriteHalf<'_, '_, TIMERS> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        self.send(buf).await.map_err(|e| NetError::Errno(e.errno()))
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        AsyncWriteHalf::flush(self)
            .await
            .map_err(|e| NetError::Errno(e.errno()))
    }
}
