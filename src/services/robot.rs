//! The "10086" robot on a connection, TCP 8888: lines in, the menu's answers out.
//!
//! The menu itself is pure logic in [`robot_menu`](super::robot_menu); this driver frames
//! lines ([`LineFramer`]) and sends each answer, reading a line only when its answer
//! surely fits in the transmit buffer, so it needs no output buffer of its own.

use super::driver::{Handler, Status};
use super::line_framer::{Framed, LineFramer};
use super::relay::wait_for_room;
use super::robot_menu;
use crate::socket::{RecvError, TcpSocket};
use crate::stack::Stack;

/// The longest robot input line, in bytes (a trailing `\r` included).
pub const ROBOT_LINE: usize = 256;

/// The 10086 robot on a connection: frames lines, answers each with [`robot_menu::answer`].
#[derive(Debug, Default)]
pub struct Robot;

impl Handler for Robot {
    type Session = LineFramer<ROBOT_LINE>;

    fn open(&mut self, conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Self::Session {
        // A fresh connection's transmit buffer is empty and larger than MAX_REPLY.
        say(conn, stack, robot_menu::WELCOME);
        LineFramer::new()
    }

    fn serve(
        &mut self,
        framer: &mut Self::Session,
        conn: &mut TcpSocket,
        stack: &mut Stack<'_>,
    ) -> Status {
        loop {
            // Read a line only when its answer is sure to fit: no output buffer needed.
            if conn.send_space(stack) < robot_menu::MAX_REPLY {
                return wait_for_room(conn, stack);
            }
            let reply = match conn.recv_with(stack, |data| framer.feed(data)) {
                Ok(Some(None)) => continue,
                Ok(Some(Some(Framed::Line))) => robot_menu::answer(framer.line()),
                Ok(Some(Some(Framed::TooLong))) => robot_menu::too_long(),
                // End of stream: answer a last unterminated line, then hang up.
                Ok(None) => {
                    if framer.finish() == Some(Framed::Line) {
                        say(conn, stack, robot_menu::answer(framer.line()).text);
                    }
                    return Status::Close;
                }
                Err(RecvError::WouldBlock) => return Status::Open,
                Err(_) => return Status::Lost,
            };
            say(conn, stack, reply.text);
            if reply.hang_up {
                return Status::Close;
            }
        }
    }
}

/// Queue one line; the caller made sure it fits.
fn say(conn: &mut TcpSocket, stack: &mut Stack<'_>, text: &str) {
    let _ = conn.send_vectored(stack, &[text.as_bytes(), b"\n"]);
}
