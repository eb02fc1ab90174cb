"""``make bench``: every benchmark, figures from one run, printed as ratios."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402

django.setup()

from bench import (  # noqa: E402
    bench_bot_rows,
    bench_checkpoints,
    bench_cleanup,
    bench_client,
    bench_dashboard,
    bench_decorator,
    bench_metrics,
)

BENCHES = [
    bench_client,
    bench_checkpoints,
    bench_decorator,
    bench_cleanup,
    bench_bot_rows,
    bench_dashboard,
    bench_metrics,
]


def main(argv: list[str]) -> int:
    wanted = set(argv)
    for module in BENCHES:
        name = module.__name__.rsplit(".", 1)[-1].removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {name}: {module.__doc__.strip().splitlines()[0]}", flush=True)
        for line in module.run():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
