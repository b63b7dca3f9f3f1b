"""A loopback proxy in front of Azurite's Table service that kills a bot process at an exact point of its writes.

A bot process reaches Table Storage through this proxy (its AZURE_STORAGE_CONNECTION_STRING names the proxy's port as
TableEndpoint). Every HTTP request passes through unchanged, read whole first (head, then `Content-Length` bytes:
azure-core sends every body with its length), until one matches `cut`: then the process gets SIGKILL before that
request reaches Azurite, and the proxy stops forwarding anything. What the store holds afterwards is exactly what a
host lost between two writes leaves behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

Cut = Callable[[str, str, bytes], bool]  # (method, path, body) -> kill before this request?


@dataclass
class KillingProxy:
    upstream_port: int
    cut: Cut
    process: subprocess.Popen[bytes] | None = None  # set once the process is spawned
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) forwarded, in order
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        back = asyncio.get_running_loop().create_task(_pipe(upstream_r, client_w))
        try:
            while not self.killed.is_set():
                head = await client_r.readuntil(b"\r\n\r\n")
                body = await client_r.readexactly(_length(head))
                method, path = head.split(b" ", 2)[:2]
                if self.cut(method.decode(), path.decode(), body):
                    self._kill()
                    return
                self.requests.append((method.decode(), path.decode()))
                upstream_w.write(head + body)
                await upstream_w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # the client went away, or the proxy is closing
        finally:
            back.cancel()
            for w in (client_w, upstream_w):
                w.close()

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.killed.set()


def _length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()
