//! `serve --mqtt BROKER`: the robot's calls published to an MQTT broker by minimq, a
//! third-party MQTT 5 client that knows nothing of sockless: it runs on sockless's
//! `embedded-nal` stack (`NalTcpStack`), sharing the stack with the tutorial's services.

use std::cell::RefCell;
use std::net::IpAddr;

use embedded_time::Instant as ClockInstant;
use embedded_time::clock::{Clock, Error as ClockError};
use embedded_time::fraction::Fraction;
use minimq::broker::IpBroker;
use minimq::{ConfigBuilder, Minimq, Publication};
use sockless::ecosystem::NalTcpStack;
use sockless::phy::tap::wall_clock;
use sockless::{Stack, TcpBuffers};

/// The topic each robot call is published on.
pub const TOPIC: &str = "sockless/robot";

/// The stack's own time (the wall clock it is polled with), in milliseconds, for minimq's
/// keep-alive.
pub struct StackClock;

impl Clock for StackClock {
    type T = u32;
    const SCALING_FACTOR: Fraction = Fraction::new(1, 1000);

    fn try_now(&self) -> Result<ClockInstant<Self>, ClockError> {
        Ok(ClockInstant::new(wall_clock().total_millis() as u32))
    }
}

type Nal<'s, 'a> = NalTcpStack<'a, &'s RefCell<Stack<'a>>, 2048, 2048, 1>;

/// An MQTT client publishing the robot's calls.
pub struct RobotPublisher<'s, 'a> {
    mqtt: Minimq<'s, Nal<'s, 'a>, StackClock, IpBroker>,
    published: u64,
    /// Sessions with the broker so far (each a TCP connection on sockless), and whether
    /// one is up now.
    sessions: u64,
    up: bool,
}

impl<'s, 'a> RobotPublisher<'s, 'a> {
    /// A client of `broker` (port 1883) on `stack`, with `buffers` for its sockets (it
    /// uses one at a time; a second lets it reconnect while the first still closes) and
    /// `packets` for its packets.
    pub fn new(
        broker: IpAddr,
        stack: &'s RefCell<Stack<'a>>,
        buffers: &'a mut [TcpBuffers<2048, 2048>],
        packets: &'s mut [u8],
    ) -> Self {
        let nal = NalTcpStack::new(stack, buffers);
        let config = ConfigBuilder::new(IpBroker::new(broker), packets)
            .client_id("sockless-serve")
            .expect("a short client id")
            .keepalive_interval(60);
        RobotPublisher {
            mqtt: Minimq::new(nal, StackClock, config),
            published: 0,
            sessions: 0,
            up: false,
        }
    }

    /// Let the client work (connect, keep alive), and publish one message per robot call
    /// not yet published (`calls` so far) once connected. Errors are logged: the broker
    /// may be away, the services go on.
    pub fn poll(&mut self, calls: u64) {
        if let Err(e) = self.mqtt.poll(|_, _, _, _| {}) {
            log::warn!("mqtt: {e:?}");
        }
        let up = self.mqtt.client().is_connected();
        if up && !self.up {
            self.sessions += 1;
            log::info!("mqtt: session {} with the broker", self.sessions);
        }
        self.up = up;
        while self.published < calls && self.mqtt.client().is_connected() {
            let text = format!("robot call {}", self.published + 1);
            match self
                .mqtt
                .client()
                .publish(Publication::new(TOPIC, text.as_bytes()))
            {
                Ok(()) => self.published += 1,
                Err(e) => {
                    log::debug!("mqtt: publish later: {e:?}");
                    break;
                }
            }
        }
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// Sessions with the broker so far.
    pub fn sessions(&self) -> u64 {
        self.sessions
    }
}
