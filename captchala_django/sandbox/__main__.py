"""``python -m captchala_django.sandbox --port N``: serve the sandbox standalone."""

from __future__ import annotations

import argparse
import sys

from .server import LiveSandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m captchala_django.sandbox",
        description="Local CaptchaLa emulator (development and tests only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--app-key", help="register an extra app key")
    parser.add_argument("--app-secret", help="its secret")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also serve requests whose Host is NAME (repeatable; say, a container's name). "
        "By default only loopback hosts (localhost, 127.0.0.1, [::1]) and --host are served.",
    )
    args = parser.parse_args(argv)
    live = LiveSandbox(
        host=args.host, port=args.port, verbose=not args.quiet, allowed_hosts=args.allow_host
    )
    if args.app_key and args.app_secret:
        live.register_app(args.app_key, args.app_secret)
    print(f"CaptchaLa sandbox on {live.url}  (API: {live.url}, loader: {live.loader_url})")
    sys.stdout.flush()
    try:
        live.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
