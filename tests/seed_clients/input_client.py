#!/usr/bin/env python3
# The tutorial's input('>>:') loop client to port 6969.
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
cli = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
cli.connect((host, 6969))
while True:
    try:
        msg = input('>>:').strip()
    except EOFError:
        break
    if not msg:
        continue
    cli.send(msg.encode('utf-8'))
    data = b''
    while len(data) < len(msg.encode('utf-8')):
        data += cli.recv(1024)
    print('recv:', data.decode())
cli.close()
