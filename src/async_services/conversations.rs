//! One conversation per function: what a tutorial server does with one `conn`.
//!
//! Each takes the accepted stream and gives it back with how the conversation ended, so
//! that its [`TcpServer`](super::TcpServer) can count it and let the socket go. None
//! keeps a buffer between calls but the robot's line ([`LineFramer`]); each reads only
//! as much as it can answer before reading again, so a slow reader slows the caller down
//! (TCP's flow control, end to end), as the poll-driven services do.

use crate::async_sockets::AsyncTcpStream;
use crate::services::line_framer::{Framed, LineFramer};
use crate::services::{NOTICE, ROBOT_LINE, robot_menu};

/// How a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It is over: close (FIN after the queued data).
    Close,
    /// The connection died (reset, timed out).
    Lost,
}

/// Bytes moved per step by [`echo`] and [`upper`] (a buffer in the task).
const CHUNK: usize = 512;

/// RFC 862 echo, TCP 7: every byte back, until the caller closes.
pub async fn echo<'s, 'a, const T: usize>(
    conn: AsyncTcpStream<'s, 'a, T>,
) -> (AsyncTcpStream<'s, 'a, T>, Ending) {
    relay(conn, |_| {}).await
}

/// The tutorial's upper-casing echo, TCP 6969: `conn.send(data.upper())` (ASCII letters
/// only, as Python's `bytes.upper()`: the bytes of a UTF-8 character split across two
/// reads pass unchanged).
pub async fn upper<'s, 'a, const T: usize>(
    conn: AsyncTcpStream<'s, 'a, T>,
) -> (AsyncTcpStream<'s, 'a, T>, Ending) {
    relay(conn, <[u8]>::make_ascii_uppercase).await
}

/// ```python
/// while True:
///     data = conn.recv(1024)
///     if not data: break
///     conn.sendall(transform(data))
/// ```
async fn relay<'s, 'a, const T: usize>(
    mut conn: AsyncTcpStream<'s, 'a, T>,
    transform: fn(&mut [u8]),
) -> (AsyncTcpStream<'s, 'a, T>, Ending) {
    let mut chunk = [0u8; CHUNK];
    let ending = loop {
        match conn.recv(&mut chunk).await {
            Ok(0) => break Ending::Close,
            Ok(n) => {
                transform(&mut chunk[..n]);
                if conn.send_all(&chunk[..n]).await.is_err() {
                    break Ending::Lost;
                }
            }
            Err(_) => break Ending::Lost,
        }
    };
    (conn, ending)
}

/// The tutorial's first server, TCP 9999:
///
/// ```python
/// client_data = conn.recv(1024)
/// conn.sendall('不要回答,不要回答,不要回答')
/// conn.close()
/// ```
///
/// A caller that half-closes without a word still gets the notice (`recv` returns `b''`
/// in Python and the server answers anyway).
pub async fn notice<'s, 'a, const T: usize>(
    mut conn: AsyncTcpStream<'s, 'a, T>,
) -> (AsyncTcpStream<'s, 'a, T>, Ending) {
    let mut message = [0u8; 1024];
    let ending = match conn.recv(&mut message).await {
        Ok(_) => match conn.send_all(NOTICE.as_bytes()).await {
            Ok(()) => Ending::Close,
            Err(_) => Ending::Lost,
        },
        Err(_) => Ending::Lost,
    };
    (conn, ending)
}

/// The 10086 robot, TCP 8888:
///
/// ```python
/// conn.sendall(WELCOME)
/// while True:
///     line = next line of conn
///     reply, hang_up = answer(line)
///     conn.sendall(reply)
///     if hang_up: break
/// ```
///
/// Lines are framed by [`LineFramer`] (`\n` or `\r\n`; an overlong line is answered once
/// and dropped); each answer is [`robot_menu::answer`]. At the end of the stream a last
/// unterminated line is answered before hanging up.
pub async fn robot<'s, 'a, const T: usize>(
    mut conn: AsyncTcpStream<'s, 'a, T>,
) -> (AsyncTcpStream<'s, 'a, T>, Ending) {
    let ending = converse(&mut conn).await;
    (conn, ending)
}

async fn converse<const T: usize>(conn: &mut AsyncTcpStream<'_, '_, T>) -> Ending {
    let mut framer = LineFramer::<ROBOT_LINE>::new();
    if say(conn, robot_menu::WELCOME).await.is_err() {
        return Ending::Lost;
    }
    let mut input = [0u8; ROBOT_LINE];
    loop {
        let n = match conn.recv(&mut input).await {
            Ok(0) => {
                if framer.finish() == Some(Framed::Line) {
                    let reply = robot_menu::answer(framer.line());
                    let _ = say(conn, reply.text).await;
                }
                return Ending::Close;
            }
            Ok(n) => n,
            Err(_) => return Ending::Lost,
        };
        let mut rest = &input[..n];
        while !rest.is_empty() {
            let (used, framed) = framer.feed(rest);
            rest = rest.get(used..).unwrap_or_default();
            let reply = match framed {
                Some(Framed::Line) => robot_menu::answer(framer.line()),
                Some(Framed::TooLong) => robot_menu::too_long(),
                None => continue,
            };
            if say(conn, reply.text).await.is_err() {
                return Ending::Lost;
            }
            if reply.hang_up {
                return Ending::Close;
            }
        }
    }
}

/// One line out.
async fn say<const T: usize>(conn: &mut AsyncTcpStream<'_, '_, T>, text: &str) -> Result<(), ()> {
    conn.send_all(text.as_bytes()).await.map_err(|_| ())?;
    conn.send_all(b"\n").await.map_err(|_| ())
}
