"""`python -m devtools.stripe_emulator [--host H] [--port N]`: serve until SIGTERM or SIGINT."""

import argparse
import logging

from aiohttp import web

from .app import create_app


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.stripe_emulator",
        description="localstripe plus Connect accounts, transfers and Idempotency-Key replay.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logger = logging.getLogger("stripe_emulator")
    # run_app stops the server cleanly on SIGINT and SIGTERM and then returns.
    web.run_app(
        create_app(),
        host=args.host,
        port=args.port,
        access_log=logging.getLogger("aiohttp.access"),
        print=lambda text: logger.info(text.strip()),
    )
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
