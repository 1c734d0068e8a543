"""Git around a DVC project: the commit being released, pushed commits, the pre-push hook."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from lifegate.core.errors import ConfigError
from lifegate.core.model import Finding

__all__ = ["HOOK_MARK", "git_head", "install_hook", "push_findings", "pushed_commits"]

HOOK_MARK = "# installed by `lifegate dvc install-hook`"
ZERO = "0" * 40
BOUND_FILES = ("dvc.yaml", "dvc.lock")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False,
                          timeout=60, stdin=subprocess.DEVNULL)


def git_head(root: Path) -> str | None:
    proc = _git(root, "rev-parse", "HEAD")
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _toplevel(root: Path) -> Path:
    proc = _git(root, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise ConfigError(f"{root} is not inside a git repository", where=str(root),
                          fix="run `git init` in the project first")
    return Path(proc.stdout.decode().strip())


def pushed_commits(lines: str) -> list[str]:
    """Local commits from git's pre-push input (``<ref> <sha> <remote ref> <sha>``)."""
    out = []
    for line in lines.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] != ZERO:
            out.append(parts[1])
    return out


def push_findings(root: Path, commits: list[str]) -> list[Finding]:
    """A pushed commit must hold the dvc.yaml and dvc.lock the workspace was checked with."""
    rel = root.resolve().relative_to(_toplevel(root).resolve()).as_posix()
    findings = []
    for sha in commits:
        for name in BOUND_FILES:
            path = name if rel == "." else f"{rel}/{name}"
            committed = _git(root, "show", f"{sha}:{path}")
            local = (root / name).read_bytes() if (root / name).is_file() else None
            if committed.returncode != 0 or committed.stdout != local:
                findings.append(Finding(
                    rule="RELEASE-PUSH-MISMATCH", location=f"{sha[:12]}:{path}",
                    message=f"the pushed commit {sha[:12]} has a different {name} than the "
                    "checked workspace; check out that commit, `dvc checkout`, and push again "
                    "(or commit the workspace's lock)"))
    return findings


def install_hook(root: Path, force: bool) -> Path:
    """Write ``pre-push`` into the repository's hooks folder (honours core.hooksPath)."""
    top = _toplevel(root)
    proc = _git(root, "rev-parse", "--git-path", "hooks")
    hooks = Path(proc.stdout.decode().strip())
    hooks = hooks if hooks.is_absolute() else root / hooks
    hook = hooks / "pre-push"
    if hook.exists() and HOOK_MARK not in hook.read_text(errors="replace") and not force:
        raise ConfigError(f"{hook} exists and was not written by lifegate", where=str(hook),
                          fix="call lifegate from it yourself, or pass --force to replace it")
    rel = os.path.relpath(root.resolve(), top.resolve())
    python = shlex.quote(sys.executable)
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        "#!/bin/sh\n"
        f"{HOOK_MARK}\n"
        "# Blocks a push unless the release check passes for the pushed dvc.lock.\n"
        f'cd "$(git rev-parse --show-toplevel)"/{shlex.quote(rel)} || exit 1\n'
        "DVC_NO_ANALYTICS=1; export DVC_NO_ANALYTICS\n"
        f"exec {python} -m lifegate.cli dvc release-check --pre-push\n")
    hook.chmod(0o755)
    return hook
