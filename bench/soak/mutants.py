"""Deliberately broken copies of the package, to prove the soak catches a bug.

``--mutant NAME`` copies ``captchala_django`` into the run's directory, patches the
copy, and puts it first on the app servers' ``PYTHONPATH``: the installed package is
never touched. The sandbox keeps the real package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import captchala_django

#: name -> (file in the package, [(text, replacement), ...], what it breaks)
MUTANTS = {
    "claim-always-ours": (
        "checkpoints/ledger.py",
        [
            (
                "        if claim_id is not None:\n            return Claim(ours=True)\n",
                "        return Claim(ours=True)  # MUTANT: every claim is ours\n",
            ),
            (
                "    try:\n        for _ in range(_CLAIM_TRIES):\n",
                "    return Claim(ours=True)  # MUTANT: every claim is ours\n"
                "    try:\n        for _ in range(_CLAIM_TRIES):\n",
            ),
        ],
        "the replay ledger's claim always says 'ours': duplicates and replays reach CaptchaLa",
    ),
}


def build(name: str, directory: Path, base: str = "") -> tuple[Path, str]:
    """A patched copy of the package (the installed one, or the one under ``base``) under
    ``directory``; the path to put on PYTHONPATH."""
    relative, patches, what = MUTANTS[name]
    source = Path(captchala_django.__file__).resolve().parent
    if base:
        source = Path(base) / "captchala_django"
    target = directory / "mutant"
    shutil.copytree(
        source, target / "captchala_django", ignore=shutil.ignore_patterns("__pycache__")
    )
    path = target / "captchala_django" / relative
    text = path.read_text()
    for old, new in patches:
        if text.count(old) != 1:
            raise RuntimeError(f"mutant {name}: {relative} no longer has the text to patch")
        text = text.replace(old, new)
    path.write_text(text)
    return target, what
