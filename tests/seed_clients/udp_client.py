#!/usr/bin/env python3
# The tutorial's UDP client: send each input line to port 9999, print the reply; stop at exit.
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
ip_port = (host, 9999)
sk = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM, 0)
sk.settimeout(5)
while True:
    try:
        inp = input('数据:').strip()
    except EOFError:
        break
    if inp == 'exit':
        break
    sk.sendto(bytes(inp, encoding='utf-8'), ip_port)
    data = sk.recvfrom(1024)
    print(data[0].decode('utf-8'))
sk.close()
