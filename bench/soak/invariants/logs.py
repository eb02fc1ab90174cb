"""What the checks read from files: the clients' request logs and the app servers'
500 tracebacks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


def read_logs(logdir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(logdir.glob("*.jsonl")):
        with open(path) as lines:
            for line in lines:
                line = line.strip()
                if line:
                    records.append(json.loads(line))
    return records


def server_tracebacks(paths: list[Path]) -> list[dict[str, Any]]:
    """The 500s the app servers logged (Django's ``django.request`` errors), each with
    whether its traceback runs through captchala_django and its innermost frames."""
    found = []
    for path in paths:
        text = path.read_text(errors="replace") if path.exists() else ""
        for block in text.split(" django.request Internal Server Error: ")[1:]:
            lines = block.splitlines()
            body = []
            for line in lines[1:]:
                if line[:2] == "20" or line[:3] == "[20":  # the next log line
                    break
                body.append(line)
            final = "\n".join(body).split("the direct cause of the following exception:")[-1]
            frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', final)
            ours = [i for i, f in enumerate(frames) if "/captchala_django/" in f[0]]
            below = frames[ours[-1] + 1 :] if ours else frames
            # The project's own use of the session is not the package's, even below a
            # package frame: a template of the project reading ``request.user`` (the
            # challenge page renders the project's template), DRF's authentication.
            if any("rest_framework" in f[0] for f in below):
                package, via = False, "DRF authentication"
            elif any("/django/template/" in f[0] for f in below):
                package, via = False, "request.user in a template"
            elif ours:
                package, via = True, ""
            else:
                middleware = [f for f in frames if "middleware" in f[0]]
                via = f"{middleware[-1][0].split('/')[-2]} middleware" if middleware else "Django"
                package = False
            if package:
                chain = [frames[i] for i in ours[-3:]]
            else:
                auth = [f for f in below if "contrib/auth" in f[0] or "sessions" in f[0]]
                chain = auth[:1] or frames[-1:]
            found.append(
                {
                    "server": path.stem,
                    "path": lines[0].strip() if lines else "?",
                    "package": package,
                    "where": " > ".join(
                        f"{'/'.join(f[0].split('/')[-2:])}:{f[1]} {f[2]}" for f in chain
                    )
                    + (f" ({via})" if via else ""),
                }
            )
    return found
