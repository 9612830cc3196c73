"""A loopback proxy that forwards every request to the real server, reads the whole
answer (so the change is committed) and then resets the client's connection without
it: the lost answer of issue 11 item 4, the testkit proxy's `Fault::DropResponse`."""

import socket
import struct
import threading


class DropProxy:
    def __init__(self, upstream_url: str) -> None:
        host_port = upstream_url.split("://", 1)[1].rstrip("/")
        host, port = host_port.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.forwarded = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, body = buf.split(b"\r\n\r\n", 1)
            length = 0
            lines = head.split(b"\r\n")
            kept = [lines[0]]
            for line in lines[1:]:
                name = line.split(b":", 1)[0].strip().lower()
                if name == b"content-length":
                    length = int(line.split(b":", 1)[1])
                if name != b"connection":
                    kept.append(line)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            kept.append(b"Connection: close")
            with socket.create_connection(self.upstream, timeout=30) as up:
                up.sendall(b"\r\n".join(kept) + b"\r\n\r\n" + body[:length])
                while up.recv(65536):
                    pass  # the whole answer: the server has committed
            with self._lock:
                self.forwarded += 1
        finally:
            # RST instead of FIN: the client sees a broken connection, not an empty answer.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self.listener.close()
