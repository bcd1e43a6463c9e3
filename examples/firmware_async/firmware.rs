//! The async firmware proper: statics, start-up, the tasks.

use core::cell::Cell;
use core::marker::PhantomData;

use cortex_m::peripheral::SYST;
use embassy_executor::{Executor, SpawnError, SpawnToken, Spawner};
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};
use sockless::async_services::{AsyncServices, TcpServer, UdpServer, echo, notice, robot, upper};
use sockless::async_sockets::{AsyncStack, AsyncUdpSocket};
use sockless::services::{ServiceConfig, ServiceStorage, UdpEcho, UdpOk};
use sockless::{Host, Stack, StackStorage, UdpBuffers};

use crate::ThisBoard;
use crate::board::{Board, NicCounters};
use crate::console::Console;
use crate::control::{self, REPLY};
use crate::statics::Static;
use crate::wake::{self, INTERRUPT, Nic};

/// Connections per TCP service (as the poll-driven build).
pub const POOL: usize = 2;
/// Bytes of each TCP connection's receive and send buffers.
pub const BUF: usize = 1024;
/// Bytes of each UDP service's receive and send queues.
pub const UDP: usize = 2048;
/// The firmware's own UDP port: `stats`, `log LEVEL`, `quit` (the host's 24444).
pub const CONTROL_PORT: u16 = 4444;
/// Sockets: the services' and the control port's.
const SOCKETS: usize = ServiceStorage::<POOL, BUF, UDP>::SOCKETS + 1;

/// QEMU's user network: the guest's address and its gateway (the host).
const ADDRESS: Ipv4Cidr = Ipv4Cidr::new(Ipv4Address::new(10, 0, 2, 15), 24);
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

type Services = AsyncServices<'static, 'static, POOL>;
type Tcp = TcpServer<'static, 'static, POOL>;

// Every byte the firmware keeps, fixed here (`.bss`; the card's are the board's); the
// tasks' own state is in the executor's task pools, statics too.
static NIC_COUNTERS: Static<Cell<NicCounters>> = Static::new();
static STACK: Static<StackStorage<'static, SOCKETS>> = Static::new();
static SHARED: Static<AsyncStack<'static>> = Static::new();
static STORAGE: Static<ServiceStorage<POOL, BUF, UDP>> = Static::new();
static SERVICES: Static<Services> = Static::new();
static CONTROL: Static<UdpBuffers<2, REPLY>> = Static::new();
static EXECUTOR: Static<Executor> = Static::new();

/// The entry point's call (`boards/cortex.rs`): the board is `ThisBoard` (embassy's tasks
/// cannot be generic, so this build names its board; `B` is that board).
pub fn run<B: Board>() -> ! {
    let _: PhantomData<B>;
    start()
}

fn start() -> ! {
    Console::<ThisBoard>::install();
    let (mut board, nic, mac) = ThisBoard::start();
    // SAFETY: the board's start-up is done with the SysTick (its periodic tick is
    // reprogrammed by `wake::arm` from here on); nothing else touches it.
    let syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    let boot = board.now(nic);
    let host = Host {
        name: "board",
        mac,
        ipv4: IpCidr::Ipv4(ADDRESS),
        #[cfg(feature = "ipv6")]
        ipv6: IpCidr::Ipv6(smoltcp::wire::Ipv6Cidr::new(
            smoltcp::wire::Ipv6Address::new(0xfec0, 0, 0, 0, 0, 0, 0, 0x15),
            64,
        )),
        random_seed: 0x5eed_b0a2 ^ boot.total_micros() as u64,
    };
    let mut stack = Stack::new(host, nic, StackStorage::init(STACK.take()), boot);
    let _ = stack
        .interface()
        .routes_mut()
        .add_default_ipv4_route(GATEWAY);
    let shared: &'static AsyncStack<'static> = SHARED.take().write(AsyncStack::new(stack));
    let storage = ServiceStorage::init(STORAGE.take());
    let services: &'static Services =
        match AsyncServices::start(shared, storage, ServiceConfig::default()) {
            Ok(services) => SERVICES.take().write(services),
            Err(e) => {
                log::error!("{e}");
                ThisBoard::exit(false)
            }
        };
    let control = match AsyncUdpSocket::bind(shared, CONTROL_PORT, UdpBuffers::init(CONTROL.take()))
    {
        Ok(socket) => socket,
        Err(e) => {
            log::error!("control port: {e}");
            ThisBoard::exit(false)
        }
    };
    let counters: &'static Cell<NicCounters> = NIC_COUNTERS
        .take()
        .write(Cell::new(ThisBoard::counters(nic)));
    log::info!(
        "{}: {} pool {POOL} x {BUF} B, static {} B services + {} B sockets, async",
        ThisBoard::NAME,
        ADDRESS,
        ServiceStorage::<POOL, BUF, UDP>::SIZE,
        StackStorage::<SOCKETS>::SIZE
    );
    ThisBoard::print(
        "ready: TCP 7 6969 8888 9999, UDP 7 9999, control UDP 4444 (host: 20000 + port)",
    );

    let nic = Nic {
        chip: nic,
        stats: counters,
    };
    EXECUTOR.take().write(Executor::new()).run(|spawner| {
        spawn(spawner, runner(shared, nic, board, syst));
        spawn(spawner, echo_task(&services.echo));
        spawn(spawner, upper_task(&services.upper));
        spawn(spawner, notice_task(&services.notice));
        spawn(spawner, robot_task(&services.robot));
        spawn(spawner, udp_echo_task(&services.udp_echo));
        spawn(spawner, udp_ok_task(&services.udp_ok));
        spawn(spawner, control_task(control, shared, services, counters));
    })
}

/// Spawn a task (each is spawned once: its pool cannot be full).
fn spawn<S>(spawner: Spawner, task: Result<SpawnToken<S>, SpawnError>) {
    match task {
        Ok(token) => spawner.spawn(token),
        Err(_) => ThisBoard::exit(false),
    }
}

/// The stack's runner: poll, then sleep until a task acts, a frame comes (the LAN9118's
/// line) or the stack's next deadline (the SysTick, set for it).
#[embassy_executor::task]
async fn runner(
    stack: &'static AsyncStack<'static>,
    mut nic: Nic<'static>,
    mut board: ThisBoard,
    mut syst: SYST,
) -> ! {
    stack
        .run_on(
            &mut nic,
            |nic| board.now(nic.chip),
            |deadline| {
                wake::arm(&mut syst, stack.now(), deadline);
                INTERRUPT.wait()
            },
        )
        .await
}

#[embassy_executor::task]
async fn echo_task(server: &'static Tcp) -> ! {
    server.serve(echo).await
}

#[embassy_executor::task]
async fn upper_task(server: &'static Tcp) -> ! {
    server.serve(upper).await
}

#[embassy_executor::task]
async fn notice_task(server: &'static Tcp) -> ! {
    server.serve(notice).await
}

#[embassy_executor::task]
async fn robot_task(server: &'static Tcp) -> ! {
    server.serve(robot).await
}

#[embassy_executor::task]
async fn udp_echo_task(server: &'static UdpServer<'static, 'static, UdpEcho>) -> ! {
    server.serve().await
}

#[embassy_executor::task]
async fn udp_ok_task(server: &'static UdpServer<'static, 'static, UdpOk>) -> ! {
    server.serve().await
}

#[embassy_executor::task]
async fn control_task(
    socket: AsyncUdpSocket<'static, 'static>,
    stack: &'static AsyncStack<'static>,
    services: &'static Services,
    nic: &'static Cell<NicCounters>,
) -> ! {
    control::serve(socket, stack, services, nic).await
}
