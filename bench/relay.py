"""A bare relay: the least a daemon of one Python process can do per message.

It answers each POST to /api/v1/messages with 201 at once and forwards the body to a webhook
URL, ``--concurrency`` at a time, with one aiohttp session: no store, no auth, no routing, no
retries. ``bench/throughput.py`` runs it as its "relay" leg, so the daemon's figures can be read
against what any single-process aiohttp daemon reaches on the same machine in the same run.

    .venv/bin/python bench/relay.py --port PORT --target URL [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def accept(request: web.Request) -> web.Response:
        queue.put_nowait(await request.read())
        return web.json_response({"accepted": True}, status=201)

    async def forward(session: aiohttp.ClientSession) -> None:
        while True:
            body = await queue.get()
            async with session.post(args.target, data=body, headers=JSON) as r:
                await r.read()

    app = web.Application()
    app.router.add_post("/api/v1/messages", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    async with aiohttp.ClientSession() as session:
        workers = [asyncio.create_task(forward(session)) for _ in range(args.concurrency)]
        print("ready", flush=True)
        await asyncio.gather(*workers)


JSON = {"Content-Type": "application/json"}

if __name__ == "__main__":
    asyncio.run(main())
