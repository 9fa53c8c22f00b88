"""A TCP proxy on loopback whose upstream direction is slow: a busy broker, on demand.

A broker that reads its sockets late makes the client's socket buffer fill, its writer
wait for the socket to drain, and frames pile up in the client library's queue: the
conditions under which client-side ordering bugs show (issue #13). The proxy runs in its
own thread with its own event loop, so the code under test keeps its loop to itself; it
reads ``chunk`` bytes at a time from the client, pausing ``pause`` seconds in between,
through small socket buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

SMALL_BUFFER = 4096


class SlowLink:
    """Forwards 127.0.0.1:``port`` to ``target``; client-to-server bytes are throttled."""

    def __init__(self, target: tuple[str, int], *, chunk: int = 128, pause: float = 0.001):
        self.target = target
        self.chunk = chunk
        self.pause = pause
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._thread = threading.Thread(target=self._run, name="slow-link", daemon=True)

    def __enter__(self) -> SlowLink:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the slow link did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _stop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
        self._loop.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _shrink(writer)
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pipe(reader, up_writer, slow=True),
            self._pipe(up_reader, writer, slow=False),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, slow: bool
    ) -> None:
        size = self.chunk if slow else 65536
        while data := await reader.read(size):
            writer.write(data)
            await writer.drain()
            if slow:
                await asyncio.sleep(self.pause)
        writer.close()


def _shrink(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
