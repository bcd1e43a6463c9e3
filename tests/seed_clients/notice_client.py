#!/usr/bin/env python3
# The tutorial's first client: one message to port 9999, print the reply.
import socket
import sys

ip_port = (sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1', 9999)
sk = socket.socket(socket.AF_INET6 if ':' in ip_port[0] else socket.AF_INET)
sk.connect(ip_port)
sk.sendall('请求占领地球'.encode('utf-8'))
server_reply = b''
while True:  # the server closes after its reply
    data = sk.recv(1024)
    if not data:
        break
    server_reply += data
print(server_reply.decode('utf-8'))
sk.close()
