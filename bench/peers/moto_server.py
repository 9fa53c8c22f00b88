"""A moto SQS server on 127.0.0.1 in its own process (so the harness's GIL stays out of it).

Prints the port on its first line, then serves until killed.
"""

from __future__ import annotations

import logging
import threading

from moto.server import ThreadedMotoServer


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
