"""The lifegate DVC demo: prepare -> train -> evaluate -> lifegate gates -> release check.

Copies ``project/`` to ``demo-output-dvc/``, makes it a git + DVC repository (analytics off),
generates the system key and an approver key, and runs ``dvc repro``. Until someone approves
the release, the release check (the pipeline's last stage) fails; after the approval it
passes. Then the pre-push hook lets a releasable commit through to a local bare remote, and
blocks one whose model was edited after dvc.lock. Run it with ``make demo``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = REPO / "demo-output-dvc"
MODEL = "models/model.joblib"


def env() -> dict[str, str]:
    """lifegate and dvc of this interpreter first on PATH; no analytics, no prompts."""
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            "DVC_NO_ANALYTICS": "1", "LIFEGATE_ACTOR": "alice", "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": "alice@example.org",
            "GIT_COMMITTER_NAME": "alice", "GIT_COMMITTER_EMAIL": "alice@example.org"}


def run(root: Path, *cmd: str, expect: int | None = 0, quiet: bool = False,
        ) -> subprocess.CompletedProcess[str]:
    """Run a command in the project; fail the demo when the exit code is not ``expect``."""
    if not quiet:
        print(f"\n$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(list(cmd), cwd=root, env=env(), text=True, capture_output=True,
                          check=False, stdin=subprocess.DEVNULL)
    if not quiet:
        print((proc.stdout + proc.stderr).rstrip())
    if expect is not None and proc.returncode != expect:
        sys.exit(f"demo: `{' '.join(cmd)}` exited {proc.returncode}, expected {expect}\n"
                 f"{proc.stdout}{proc.stderr}")
    return proc


def lifegate(root: Path, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    return run(root, sys.executable, "-m", "lifegate.cli", *args, expect=expect)


def setup(root: Path) -> None:
    """A fresh git + DVC repository holding the example project, with its keys."""
    from lifegate.evidence.keys import generate_keypair

    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(HERE / "project", root)
    run(root, "git", "init", "-q", "-b", "main", quiet=True)
    run(root, "dvc", "init", "-q", quiet=True)
    run(root, "dvc", "config", "core.analytics", "false", quiet=True)
    lifegate(root, "keys", "generate")
    generate_keypair(root / ".lifegate" / "keys", "bob")  # the approver's own key
    commit(root, "example project")


def commit(root: Path, message: str) -> None:
    run(root, "git", "add", "-A", quiet=True)
    run(root, "git", "commit", "-q", "-m", message, expect=None, quiet=True)


def repro(root: Path, *targets: str, expect: int | None = 0,
          ) -> subprocess.CompletedProcess[str]:
    return run(root, "dvc", "repro", *targets, expect=expect)


def build(root: Path) -> None:
    """Every stage but the release check. (A failed ``dvc repro`` takes back the .gitignore
    entries it added for new outputs, so the first build should succeed.)"""
    import yaml

    names = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    repro(root, *(n for n in names if n != "release_check"))


def approve(root: Path) -> None:
    """alice asks, bob (system operator) approves the exact release with his own key."""
    lifegate(root, "approval", "request", MODEL, "--by", "alice",
             "--note", "iris classifier, first release")
    lifegate(root, "approve", MODEL, "--by", "bob", "--key", ".lifegate/keys/bob.key",
             "--comment", "reviewed metrics, SBOM and disclosure")


def push_demo(root: Path) -> None:
    remote = root.parent / f"{root.name}-remote.git"
    if remote.exists():
        shutil.rmtree(remote)
    run(root, "git", "init", "-q", "--bare", str(remote), quiet=True)
    run(root, "git", "remote", "add", "origin", str(remote), quiet=True)
    lifegate(root, "dvc", "install-hook")
    commit(root, "release 1.0.0")
    run(root, "git", "push", "-q", "origin", "main")
    model = root / MODEL
    released = model.read_bytes()
    model.write_bytes(released + b"\0")  # edited after dvc.lock: the hook blocks the push
    run(root, "git", "commit", "-q", "--allow-empty", "-m", "unreleasable", quiet=True)
    run(root, "git", "push", "-q", "origin", "main", expect=1)
    model.write_bytes(released)


def main() -> None:
    setup(OUT)
    build(OUT)
    # Nobody has approved this release yet: the release check fails, and so does dvc repro.
    lifegate(OUT, "dvc", "release-check", expect=1)
    repro(OUT, expect=255)
    approve(OUT)
    repro(OUT)
    lifegate(OUT, "dvc", "release-check")
    push_demo(OUT)
    print(f"\nDVC demo done: {OUT} (ledger .lifegate/ledger.db, lineage.json, "
          f"{MODEL}.cdx.json, disclosure/)")


if __name__ == "__main__":
    main()
