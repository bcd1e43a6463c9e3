//! The verbs' errors, and the `errno` each stands for.
//!
//! Python raises `OSError` subclasses that carry a Linux `errno` and its `strerror`
//! (`ConnectionRefusedError: [Errno 111] Connection refused`). Here each verb returns its
//! own small enum, so a `match` lists only what that verb can meet, and every variant
//! maps to the [`Errno`] Python would report: the number and the text are shared, once,
//! by all of them ([`Errno`]'s `Display` prints what Python prints).

use core::fmt;

use smoltcp::wire::IpEndpoint;

use crate::stack::SocketError;

/// A Linux `errno`, as Python's `OSError.errno` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// 9: Bad file descriptor (a closed or stale descriptor).
    EBADF,
    /// 11: Resource temporarily unavailable (`BlockingIOError`).
    EAGAIN,
    /// 22: Invalid argument.
    EINVAL,
    /// 24: Too many open files (the stack's storage is full).
    EMFILE,
    /// 32: Broken pipe (`BrokenPipeError`: sending after shutdown).
    EPIPE,
    /// 89: Destination address required (a datagram with nowhere to go).
    EDESTADDRREQ,
    /// 90: Message too long.
    EMSGSIZE,
    /// 95: Operation not supported (multicast: this stack has no IGMP or MLD).
    EOPNOTSUPP,
    /// 98: Address already in use.
    EADDRINUSE,
    /// 101: Network is unreachable.
    ENETUNREACH,
    /// 103: Software caused connection abort.
    ECONNABORTED,
    /// 104: Connection reset by peer (`ConnectionResetError`).
    ECONNRESET,
    /// 105: No buffer space available (a fixed table is full).
    ENOBUFS,
    /// 106: Transport endpoint is already connected.
    EISCONN,
    /// 107: Transport endpoint is not connected.
    ENOTCONN,
    /// 110: Connection timed out (`TimeoutError`, `socket.timeout`).
    ETIMEDOUT,
    /// 111: Connection refused (`ConnectionRefusedError`).
    ECONNREFUSED,
    /// 115: Operation now in progress (a non-blocking `connect`).
    EINPROGRESS,
}

impl Errno {
    /// The number (Linux's).
    pub const fn code(self) -> i32 {
        match self {
            Errno::EBADF => 9,
            Errno::EAGAIN => 11,
            Errno::EINVAL => 22,
            Errno::EMFILE => 24,
            Errno::EPIPE => 32,
            Errno::EDESTADDRREQ => 89,
            Errno::EMSGSIZE => 90,
            Errno::EOPNOTSUPP => 95,
            Errno::EADDRINUSE => 98,
            Errno::ENETUNREACH => 101,
            Errno::ECONNABORTED => 103,
            Errno::ECONNRESET => 104,
            Errno::ENOBUFS => 105,
            Errno::EISCONN => 106,
            Errno::ENOTCONN => 107,
            Errno::ETIMEDOUT => 110,
            Errno::ECONNREFUSED => 111,
            Errno::EINPROGRESS => 115,
        }
    }

    /// The text (glibc's `strerror`, which Python prints).
    pub const fn message(self) -> &'static str {
        match self {
            Errno::EBADF => "Bad file descriptor",
            Errno::EAGAIN => "Resource temporarily unavailable",
            Errno::EINVAL => "Invalid argument",
            Errno::EMFILE => "Too many open files",
            Errno::EPIPE => "Broken pipe",
            Errno::EDESTADDRREQ => "Destination address required",
            Errno::EMSGSIZE => "Message too long",
            Errno::EOPNOTSUPP => "Operation not supported",
            Errno::EADDRINUSE => "Address already in use",
            Errno::ENETUNREACH => "Network is unreachable",
            Errno::ECONNABORTED => "Software caused connection abort",
            Errno::ECONNRESET => "Connection reset by peer",
            Errno::ENOBUFS => "No buffer space available",
            Errno::EISCONN => "Transport endpoint is already connected",
            Errno::ENOTCONN => "Transport endpoint is not connected",
            Errno::ETIMEDOUT => "Connection timed out",
            Errno::ECONNREFUSED => "Connection refused",
            Errno::EINPROGRESS => "Operation now in progress",
        }
    }
}

impl fmt::Display for Errno {
    /// `[Errno 111] Connection refused`, as Python prints an `OSError`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[Errno {}] {}", self.code(), self.message())
    }
}

/// An error enum whose variants each stand for one [`Errno`]: the enum, its `errno()`,
/// `Display` (Python's text) and `Error`.
macro_rules! errno_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $errno:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The Linux `errno` Python would report for this outcome.
            pub const fn errno(&self) -> Errno {
                match self {
                    $( $name::$variant => Errno::$errno, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.errno().fmt(f)
            }
        }

        impl core::error::Error for $name {}
    };
}

errno_enum! {
    /// Error returned by [`Listener::listen`](super::Listener::listen).
    pub enum ListenError {
        /// Port 0 cannot be listened on (Python would pick a port; there is no OS to).
        Unaddressable = EINVAL,
        /// `backlog` is 0 or larger than the pool.
        BadBacklog = EINVAL,
        /// The pool is larger than the listener's capacity `POOL`.
        PoolTooLarge = EINVAL,
        /// The stack has no free slot for the pool's sockets (`EMFILE`).
        NoSlot = EMFILE,
        /// The stack already keeps a policy for its maximum of listening ports
        /// ([`MAX_PORTS`](crate::stack::gate::MAX_PORTS)).
        TooManyPorts = ENOBUFS,
        /// Another listener of this stack holds the port (`EADDRINUSE`).
        AddrInUse = EADDRINUSE,
    }
}

errno_enum! {
    /// Error returned by [`Listener::accept`](super::Listener::accept).
    pub enum AcceptError {
        /// No connection is ready (Python: `BlockingIOError`).
        WouldBlock = EAGAIN,
        /// The `settimeout` time passed with no connection (`socket.timeout`; an async
        /// accept with a timeout).
        TimedOut = ETIMEDOUT,
    }
}

errno_enum! {
    /// Error returned by [`TcpSocket::connect`](super::TcpSocket::connect) and
    /// [`TcpSocket::connect_status`](super::TcpSocket::connect_status).
    pub enum ConnectError {
        /// The handshake is in progress (`EINPROGRESS`): poll and ask again.
        WouldBlock = EINPROGRESS,
        /// The peer answered with RST: nobody listens there (`ECONNREFUSED`).
        Refused = ECONNREFUSED,
        /// No answer before the timeout (`ETIMEDOUT`).
        TimedOut = ETIMEDOUT,
        /// The connection was established, then reset before it was checked.
        Reset = ECONNRESET,
        /// The program cancelled the connect (`close` or `shutdown` during it).
        Aborted = ECONNABORTED,
        /// Port 0, an unspecified address, or no source address for that family.
        Unaddressable = ENETUNREACH,
        /// The socket is connected, connecting, or its last connection is still closing
        /// (TIME-WAIT) (`EISCONN`).
        InvalidState = EISCONN,
        /// The descriptor was closed (`EBADF`).
        Closed = EBADF,
    }
}

errno_enum! {
    /// Error returned by [`TcpSocket::recv`](super::TcpSocket::recv).
    pub enum RecvError {
        /// No data yet (`BlockingIOError`): poll and try again.
        WouldBlock = EAGAIN,
        /// The peer reset the connection (`ConnectionResetError`): reported once, as
        /// Linux; later `recv`s see the end of the stream.
        Reset = ECONNRESET,
        /// The `settimeout` time passed with no data (`socket.timeout`), or the connection
        /// was dropped by a timeout.
        TimedOut = ETIMEDOUT,
        /// The socket is not connected (`ENOTCONN`).
        NotConnected = ENOTCONN,
        /// The descriptor was closed (`EBADF`).
        Closed = EBADF,
    }
}

errno_enum! {
    /// Error returned by [`TcpSocket::send`](super::TcpSocket::send).
    pub enum SendError {
        /// The transmit buffer is full, or the handshake is not done (`BlockingIOError`).
        WouldBlock = EAGAIN,
        /// The peer reset the connection (`ConnectionResetError`): reported once, as
        /// Linux; later `send`s are `Shutdown` (`EPIPE`), and so is every `send` after
        /// a reset that followed the peer's FIN, or a refused `connect`.
        Reset = ECONNRESET,
        /// The connection was dropped by a timeout.
        TimedOut = ETIMEDOUT,
        /// We already sent FIN (`shutdown(SHUT_WR)` or `close`): `BrokenPipeError`.
        Shutdown = EPIPE,
        /// The socket is not connected (`ENOTCONN`).
        NotConnected = ENOTCONN,
        /// The descriptor was closed (`EBADF`).
        Closed = EBADF,
    }
}

errno_enum! {
    /// Error returned by [`UdpSocket::bind`](super::UdpSocket::bind) and
    /// [`TcpSocket::bind`](super::TcpSocket::bind).
    pub enum BindError {
        /// Port 0 cannot be bound.
        Unaddressable = EINVAL,
        /// The stack has no free socket slot (`EMFILE`).
        NoSlot = EMFILE,
        /// Another socket of this stack holds the port (`EADDRINUSE`).
        AddrInUse = EADDRINUSE,
        /// The socket is connected or connecting already (`EINVAL`).
        InvalidState = EINVAL,
        /// The descriptor was closed (`EBADF`).
        Closed = EBADF,
    }
}

errno_enum! {
    /// Error returned by [`UdpSocket::sendto`](super::UdpSocket::sendto).
    pub enum SendToError {
        /// The transmit queue is full (`BlockingIOError`): poll and try again.
        WouldBlock = EAGAIN,
        /// The datagram is larger than the whole transmit buffer, or than one frame
        /// carries (no fragmentation) (`EMSGSIZE`).
        TooLarge = EMSGSIZE,
        /// Port 0 or an unspecified address.
        Unaddressable = ENETUNREACH,
        /// The socket was closed (`EBADF`).
        Closed = EBADF,
    }
}

impl From<SocketError> for ListenError {
    fn from(_: SocketError) -> Self {
        ListenError::NoSlot
    }
}

impl From<SocketError> for BindError {
    fn from(_: SocketError) -> Self {
        BindError::NoSlot
    }
}

/// Error returned by [`TcpSocket::sendall`](super::TcpSocket::sendall): only `sent` bytes
/// were queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendAllError {
    /// How many bytes of the data were queued.
    pub sent: usize,
    /// Why the rest was not: [`SendError::WouldBlock`] means "call again with the rest".
    pub cause: SendError,
}

impl fmt::Display for SendAllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "queued {} bytes, then: {}", self.sent, self.cause)
    }
}

impl core::error::Error for SendAllError {}

/// Error returned by [`UdpSocket::recvfrom`](super::UdpSocket::recvfrom).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvFromError {
    /// No datagram waiting (`BlockingIOError`).
    WouldBlock,
    /// The datagram did not fit: its first `copied` bytes are in the buffer, `size` is
    /// how large it was. It has been taken off the queue.
    Truncated {
        /// Bytes copied into the caller's buffer.
        copied: usize,
        /// The datagram's real size.
        size: usize,
        /// Who sent it.
        from: IpEndpoint,
    },
    /// The socket was closed (`EBADF`).
    Closed,
}

impl RecvFromError {
    /// The Linux `errno` closest to this outcome (Python raises nothing for a truncated
    /// datagram: it cuts it silently; `EMSGSIZE` is what `MSG_TRUNC` callers check).
    pub const fn errno(&self) -> Errno {
        match self {
            RecvFromError::WouldBlock => Errno::EAGAIN,
            RecvFromError::Truncated { .. } => Errno::EMSGSIZE,
            RecvFromError::Closed => Errno::EBADF,
        }
    }
}

impl fmt::Display for RecvFromError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvFromError::Truncated { copied, size, from } => write!(
                f,
                "datagram of {size} bytes from {} truncated to {copied} bytes",
                crate::stack::trace::Endpoint(*from)
            ),
            other => other.errno().fmt(f),
        }
    }
}

impl core::error::Error for RecvFromError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn errors_print_what_python_prints() {
        assert_eq!(
            ConnectError::Refused.to_string(),
            "[Errno 111] Connection refused"
        );
        assert_eq!(
            RecvError::WouldBlock.to_string(),
            "[Errno 11] Resource temporarily unavailable"
        );
        assert_eq!(SendError::Shutdown.errno().code(), 32);
        assert_eq!(ConnectError::WouldBlock.errno().code(), 115);
        assert_eq!(ListenError::NoSlot.errno(), Errno::EMFILE);
    }
}
