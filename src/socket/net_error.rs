//! One error type for every verb, as the embedded ecosystem's traits want it (one
//! `Error` type per stack or stream): the `errno` Python would raise, or one of the few
//! outcomes the traits need that Python has no number for. The verbs' own enums
//! ([`errors`](super::errors)) convert into it by their `errno`.

use core::fmt;

use smoltcp::wire::IpEndpoint;

use super::errors::Errno;

/// A verb's failure as the embedded ecosystem's traits report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    /// The failure Python would raise, by its `errno` (refused, reset, timed out, bad
    /// descriptor, address in use...).
    Errno(Errno),
    /// The peer closed its side and every byte was read (Python's `recv` returns `b''`;
    /// `embedded-nal`'s `receive` has no such value, so it is an error of kind
    /// `PipeClosed` there).
    EndOfStream,
    /// A blocking call's network can never move again (a virtual network with no frame
    /// and no timer left): where Python would wait forever, the call gives up.
    Stalled,
    /// The stack was borrowed elsewhere at the time of the call (a shared stack in a
    /// `RefCell`, used re-entrantly): nothing was done, try again.
    Busy,
}

impl NetError {
    /// The `errno` Python would raise for this (`EPIPE` for the end of stream, where
    /// Python returns `b''` instead; `ETIMEDOUT` for a stalled network; `EAGAIN` for a
    /// busy stack).
    pub fn errno(self) -> Errno {
        match self {
            NetError::Errno(errno) => errno,
            NetError::EndOfStream => Errno::EPIPE,
            NetError::Stalled => Errno::ETIMEDOUT,
            NetError::Busy => Errno::EAGAIN,
        }
    }
}

impl NetError {
    /// A trait's address (`core::net`) as smoltcp's, or `ENETUNREACH` for an IPv6 one
    /// without the `ipv6` feature.
    #[cfg_attr(
        not(any(feature = "embedded-nal", feature = "edge-nal")),
        allow(dead_code)
    )]
    pub(crate) fn endpoint(addr: core::net::SocketAddr) -> Result<IpEndpoint, NetError> {
        match addr {
            core::net::SocketAddr::V4(v4) => Ok(IpEndpoint::from(v4)),
            #[cfg(feature = "ipv6")]
            core::net::SocketAddr::V6(v6) => Ok(IpEndpoint::from(v6)),
            #[cfg(not(feature = "ipv6"))]
            core::net::SocketAddr::V6(_) => Err(Errno::ENETUNREACH.into()),
        }
    }
}

impl From<Errno> for NetError {
    fn from(errno: Errno) -> Self {
        NetError::Errno(errno)
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Errno(errno) => errno.fmt(f),
            NetError::EndOfStream => f.write_str("end of stream: the peer closed its side"),
            NetError::Stalled => f.write_str("the network stalled: nothing left to happen"),
            NetError::Busy => f.write_str("the stack is in use elsewhere"),
        }
    }
}

impl core::error::Error for NetError {}

#[cfg(feature = "embedded-nal")]
impl embedded_nal::TcpError for NetError {
    /// `PipeClosed` for every way a connection can be gone (end of stream, reset, timed
    /// out, aborted, broken pipe, not connected, closed descriptor): what a protocol
    /// crate checks to know it must connect again. The trait has no other kind: a
    /// refused connect is `Other`, and the `errno` (`ECONNREFUSED`, `ECONNRESET`,
    /// `EPIPE`...) stays in the error for whoever needs it.
    fn kind(&self) -> embedded_nal::TcpErrorKind {
        match self.errno() {
            Errno::EPIPE
            | Errno::ECONNRESET
            | Errno::ETIMEDOUT
            | Errno::ECONNABORTED
            | Errno::ENOTCONN
            | Errno::EBADF => embedded_nal::TcpErrorKind::PipeClosed,
            _ => embedded_nal::TcpErrorKind::Other,
        }
    }
}

#[cfg(feature = "embedded-io")]
impl embedded_io::Error for NetError {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind;
        match self {
            NetError::EndOfStream => ErrorKind::BrokenPipe,
            NetError::Stalled => ErrorKind::TimedOut,
            NetError::Busy => ErrorKind::Interrupted,
            NetError::Errno(errno) => match errno {
                Errno::ECONNREFUSED => ErrorKind::ConnectionRefused,
                Errno::ECONNRESET => ErrorKind::ConnectionReset,
                Errno::ECONNABORTED => ErrorKind::ConnectionAborted,
                Errno::ENOTCONN | Errno::EBADF => ErrorKind::NotConnected,
                Errno::EADDRINUSE => ErrorKind::AddrInUse,
                Errno::ENETUNREACH => ErrorKind::AddrNotAvailable,
                Errno::EPIPE => ErrorKind::BrokenPipe,
                Errno::ETIMEDOUT => ErrorKind::TimedOut,
                Errno::EINVAL | Errno::EMSGSIZE => ErrorKind::InvalidInput,
                Errno::EMFILE | Errno::ENOBUFS => ErrorKind::OutOfMemory,
                Errno::EOPNOTSUPP => ErrorKind::Unsupported,
                _ => ErrorKind::Other,
            },
        }
    }
}
