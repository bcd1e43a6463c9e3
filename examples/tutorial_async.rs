//! `cargo run --example tutorial_async`
//!
//! The tutorial's programs as async Rust that reads line for line like the Python: each
//! `.await` is where Python blocks. The Python is above each function. They run
//! in-process on two stacks in virtual time (`AsyncTestbed`), under `embassy-futures`'
//! `block_on` (an executor that fits no_std), and print the same conversations as `demo`.

use embassy_futures::block_on;
use embassy_futures::join::join;
use embassy_futures::select::{Either, select};
use sockless::async_sockets::{AsyncListener, AsyncStack, AsyncTcpStream, AsyncUdpSocket};
use sockless::services::robot_menu;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::testbed::AsyncTestbed;
use sockless::{Host, StackStorage, TcpBuffers, UdpBuffers};

type Stack = AsyncStack<'static>;

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

fn buffers() -> &'static mut TcpBuffers<1024, 1024> {
    leak(TcpBuffers::new())
}

fn pool(n: usize) -> &'static mut [TcpBuffers<1024, 1024>] {
    Vec::leak((0..n).map(|_| TcpBuffers::new()).collect())
}

fn ip_port(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), port)
}

fn show(direction: &str, bytes: &[u8]) {
    println!("  client {direction} {:?}", String::from_utf8_lossy(bytes));
}

// sk = socket.socket()
// sk.bind(ip_port)
// sk.listen(5)
// while True:
//     conn, addr = sk.accept()
//     client_data = conn.recv(1024)
//     conn.sendall('不要回答,不要回答,不要回答')
//     conn.close()
async fn first_server(stack: &Stack, calls: usize) {
    let mut sk = AsyncListener::<5>::listen(stack, 9999, 5, pool(5)).unwrap();
    for _ in 0..calls {
        let (mut conn, _addr) = sk.accept().await.unwrap();
        let mut client_data = [0u8; 1024];
        let _n = conn.recv(&mut client_data).await.unwrap();
        conn.send_all("不要回答,不要回答,不要回答".as_bytes())
            .await
            .unwrap();
        conn.close().await;
    }
}

// sk = socket.socket()
// sk.connect(ip_port)
// sk.sendall('请求占领地球')
// server_reply = sk.recv(1024)
// sk.close()
async fn first_client(stack: &Stack) {
    let mut sk = AsyncTcpStream::new(stack, buffers()).unwrap();
    sk.connect(ip_port(9999)).await.unwrap();
    sk.send_all("请求占领地球".as_bytes()).await.unwrap();
    show(">>", "请求占领地球".as_bytes());
    let mut server_reply = [0u8; 1024];
    let n = sk.recv(&mut server_reply).await.unwrap();
    show("<<", &server_reply[..n]);
    sk.close().await;
}

// server = socket.socket()
// server.bind(('localhost', 6969))
// server.listen()
// conn, addr = server.accept()
// while True:
//     data = conn.recv(1024)
//     conn.send(data.upper())
async fn upper_server(stack: &Stack) {
    let mut server = AsyncListener::<1>::listen(stack, 6969, 1, pool(1)).unwrap();
    let (mut conn, _addr) = server.accept().await.unwrap();
    loop {
        let mut data = [0u8; 1024];
        let n = conn.recv(&mut data).await.unwrap();
        if n == 0 {
            break; // (the client hung up: Python would loop on b'' forever)
        }
        data[..n].make_ascii_uppercase();
        conn.send(&data[..n]).await.unwrap();
    }
}

// cli = socket.socket()
// cli.connect(('localhost', 6969))
// while True:
//     msg = input('>>:').strip()
//     cli.send(msg.encode('utf-8'))
//     data = cli.recv(1024)
//     print('recv:', data.decode())
async fn input_client(stack: &Stack, input: &[&str]) {
    let mut cli = AsyncTcpStream::new(stack, buffers()).unwrap();
    cli.connect(ip_port(6969)).await.unwrap();
    for msg in input {
        let msg = msg.trim();
        cli.send(msg.as_bytes()).await.unwrap();
        show(">>", msg.as_bytes());
        let mut data = [0u8; 1024];
        let n = cli.recv(&mut data).await.unwrap();
        show("<<", &data[..n]);
    }
    cli.close().await;
}

// sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
// sk.bind(ip_port)
// while True:
//     data, (host, port) = sk.recvfrom(1024)
//     sk.sendto(bytes('ok', encoding='utf-8'), (host, port))
async fn udp_server(stack: &Stack, datagrams: usize) {
    let mut sk = AsyncUdpSocket::bind(stack, 9999, leak(UdpBuffers::<4, 1024>::new())).unwrap();
    for _ in 0..datagrams {
        let mut data = [0u8; 1024];
        let (_n, host_port) = sk.recv_from(&mut data).await.unwrap();
        sk.send_to(b"ok", host_port).await.unwrap();
    }
}

// sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
// while True:
//     inp = input('数据:').strip()
//     if inp == 'exit':
//         break
//     sk.sendto(bytes(inp, encoding='utf-8'), ip_port)
//     data = sk.recvfrom(1024)
// sk.close()
async fn udp_client(stack: &Stack, input: &[&str]) {
    let mut sk = AsyncUdpSocket::bind(stack, 0, leak(UdpBuffers::<4, 1024>::new())).unwrap();
    for inp in input {
        let inp = inp.trim();
        if inp == "exit" {
            break;
        }
        sk.send_to(inp.as_bytes(), ip_port(9999)).await.unwrap();
        show(">>", inp.as_bytes());
        let mut data = [0u8; 1024];
        let (n, _) = sk.recv_from(&mut data).await.unwrap();
        show("<<", &data[..n]);
    }
}

// sk = socket.socket()
// sk.bind(ip_port)
// sk.listen(5)
// while True:
//     conn, address = sk.accept()
//     conn.sendall('欢迎致电 10086,请输入1xxx,0转人工服务.')
//     Flag = True
//     while Flag:
//         data = conn.recv(1024)
//         if data == 'exit':
//             Flag = False
//         elif data == '0':
//             conn.sendall('通过可能会被录音.balabala一大推')
//         else:
//             conn.sendall('请重新输入.')
//     conn.close()
async fn robot_server(stack: &Stack) {
    let mut sk = AsyncListener::<5>::listen(stack, 8888, 5, pool(5)).unwrap();
    let (mut conn, _address) = sk.accept().await.unwrap();
    conn.send_all(robot_menu::WELCOME.as_bytes()).await.unwrap();
    let mut flag = true;
    while flag {
        let mut data = [0u8; 1024];
        let n = conn.recv(&mut data).await.unwrap();
        // (The tutorial's menu, with its codes, as the robot service answers it.)
        let reply = robot_menu::answer(&data[..n]);
        flag = !reply.hang_up;
        conn.send_all(reply.text.as_bytes()).await.unwrap();
    }
    conn.close().await;
}

// sk = socket.socket()
// sk.connect(ip_port)
// sk.settimeout(5)
// data = sk.recv(1024); print('receive:', data)
// while True:
//     inp = input('please input:')
//     sk.sendall(inp)
//     data = sk.recv(1024); print(data)
//     if inp == 'exit':
//         break
// sk.close()
async fn robot_client(stack: &Stack, input: &[&str]) {
    let mut sk = AsyncTcpStream::new(stack, buffers()).unwrap();
    sk.connect(ip_port(8888)).await.unwrap();
    sk.set_timeout(Some(sockless::smoltcp::time::Duration::from_secs(5)));
    let mut data = [0u8; 1024];
    let n = sk.recv(&mut data).await.unwrap();
    show("<<", &data[..n]);
    for inp in input {
        sk.send_all(inp.as_bytes()).await.unwrap();
        show(">>", inp.as_bytes());
        let n = sk.recv(&mut data).await.unwrap();
        show("<<", &data[..n]);
        if *inp == "exit" {
            break;
        }
    }
    sk.close().await;
}

fn main() {
    env_logger::init();
    let tb: &'static AsyncTestbed<'static> = leak(AsyncTestbed::new(
        leak(StackStorage::<24>::new()),
        leak(StackStorage::<24>::new()),
    ));
    println!("sockless tutorial_async: the tutorial's programs as async Rust, on smoltcp");
    let (server, client) = (&tb.server, &tb.client);
    let program = async {
        println!("\n== the first server and client (TCP 9999) ==");
        join(first_server(server, 1), first_client(client)).await;
        println!("\n== the upper-casing server and its input('>>:') loop (TCP 6969) ==");
        let input = ["Hello world", "世界,你好", "hi there"];
        join(upper_server(server), input_client(client, &input)).await;
        println!("\n== the UDP server that answers ok (UDP 9999); the client stops at exit ==");
        join(
            udp_server(server, 2),
            udp_client(client, &["你好", "hello", "exit"]),
        )
        .await;
        println!("\n== the 10086 robot (TCP 8888) ==");
        let input = ["1", "1001", "0", "9", "exit"];
        join(robot_server(server), robot_client(client, &input)).await;
    };
    match block_on(select(program, tb.run())) {
        Either::First(()) => println!("\nall done at virtual {}", tb.now()),
        Either::Second(stopped) => {
            eprintln!("the network stopped first: {stopped}");
            std::process::exit(1);
        }
    }
}
