#!/usr/bin/env python3
# The tutorial's 6969 clients: b'Hello world', then '世界,你好' in UTF-8.
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
cli = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
cli.connect((host, 6969))
for msg in (b'Hello world', '世界,你好'.encode('utf-8')):
    cli.send(msg)
    data = b''
    while len(data) < len(msg):  # the server answers with as many bytes
        data += cli.recv(1024)
    print('recv:', data.decode())
cli.close()
