#!/usr/bin/python3
"""safetytwin placeholder listener.

Keeps sockets open so the twin's network surface matches the host when the real program is not
available in the twin. Arguments come in groups of four: proto (tcp|udp), family (4|6), address,
port. TCP connections are accepted and closed at once; UDP datagrams are read and dropped.
Arguments are data: nothing is evaluated or passed to a shell.
"""
import selectors
import signal
import socket
import sys


def main(argv):
    if len(argv) % 4 != 0:
        print("usage: placeholder-listen [tcp|udp 4|6 ADDR PORT]...", file=sys.stderr)
        return 2
    sel = selectors.DefaultSelector()
    for i in range(0, len(argv), 4):
        proto, fam, addr, port = argv[i:i + 4]
        family = socket.AF_INET6 if fam == "6" else socket.AF_INET
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        s = socket.socket(family, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, int(port)))
        if kind == socket.SOCK_STREAM:
            s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    if not sel.get_map():
        while True:
            signal.pause()
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            try:
                if s.type == socket.SOCK_STREAM:
                    conn, _ = s.accept()
                    conn.close()
                else:
                    s.recvfrom(65535)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
