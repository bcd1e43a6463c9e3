#!/usr/bin/env python3
# The tutorial's robot client (智能机器人): print what the robot says, send each input line.
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
ip_port = (host, 8888)
sk = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
sk.connect(ip_port)
sk.settimeout(5)
pending = b''


def recv_line():
    global pending
    while b'\n' not in pending:
        data = sk.recv(1024)
        if not data:
            raise ConnectionResetError('the robot hung up')
        pending += data
    line, pending = pending.split(b'\n', 1)
    return line.decode('utf-8')


print('receive:', recv_line())
while True:
    try:
        inp = input('please input:')
    except EOFError:
        break
    sk.sendall(inp.encode('utf-8') + b'\n')
    print('receive:', recv_line())
    if inp == 'exit':
        break
sk.close()
