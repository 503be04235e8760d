#!/usr/bin/python3
"""A serial line for tests: a pseudo-terminal whose other end is a TCP connection.

`pty-bridge.py PORT` opens a pty, prints the path of its serial side (e.g. /dev/pts/7), and
relays bytes between that pty and 127.0.0.1:PORT (the modem simulator) until killed."""
import os
import select
import socket
import sys
import tty

master, slave = os.openpty()
tty.setraw(slave)
print(os.ttyname(slave), flush=True)
sock = None
while True:
    if sock is None:
        sock = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
    readable, _, _ = select.select([master, sock], [], [])
    if master in readable:
        try:
            data = os.read(master, 4096)
        except OSError:
            data = b''
        if data:
            sock.sendall(data)
    if sock in readable:
        data = sock.recv(4096)
        if not data:
            # the modem went away: reconnect (the simulator takes a new client)
            sock.close()
            sock = None
            continue
        os.write(master, data)
