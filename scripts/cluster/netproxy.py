"""The fake pod network for kube-apiserver's calls into the cluster (stdlib only).

No pod runs here (kwok's kubelet is fake), so a webhook Service's ClusterIP leads nowhere. The
apiserver is started with an EgressSelectorConfiguration whose `cluster` egress is HTTP CONNECT over
a Unix socket to this proxy (k8s.io/apiserver v0.35.8 pkg/server/egressselector,
`udsHTTPConnectConnector`; its TCP variant needs client TLS certificates); the proxy looks
the requested `clusterIP:port` up in a JSON map that plane.py writes after creating the upstream
Services ({"10.96.12.34:443": 41234}) and splices the connection to that loopback port, where the
webhook binary listens. TLS stays end to end (the apiserver checks the webhook's certificate for
`<service>.<namespace>.svc` against the caBundle as in any cluster). Anything not in the map is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: Path) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    method, target, _ = request.split(b"\r\n", 1)[0].decode().split(" ", 2)
    port = json.loads(routes.read_text()).get(target) if method == "CONNECT" else None
    if port is None:
        print(f"refused {method} {target}: not a Service this control plane serves", flush=True)
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
        writer.close()
        return
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        print(f"{target} -> 127.0.0.1:{port}: {error}", flush=True)
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
        writer.close()
        return
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def serve(socket: Path, routes: Path) -> None:
    socket.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(lambda r, w: handle(r, w, routes), str(socket))
    print(f"netproxy on {socket}, routes from {routes}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--map", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.socket, args.map))
    return 0


if __name__ == "__main__":
    sys.exit(main())
