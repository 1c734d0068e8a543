"""The pre-push hook: a releasable commit reaches the bare remote, an unreleasable one does
not (and the remote keeps its old head)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dvc_support import lifegate, run

pytestmark = pytest.mark.slow


def _remote_head(remote: Path) -> str:
    return run(remote, "git", "rev-parse", "main").stdout.strip()


def test_pre_push_hook_blocks_an_unreleasable_commit(project: Callable[[str], Path],
                                                     tmp_path: Path) -> None:
    root = project("released")
    remote = tmp_path / "remote.git"
    assert run(tmp_path, "git", "init", "-q", "--bare", str(remote)).returncode == 0
    assert run(root, "git", "remote", "add", "origin", str(remote)).returncode == 0
    assert lifegate(root, "dvc", "install-hook").returncode == 0
    ok = run(root, "git", "push", "-q", "origin", "main")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    released = _remote_head(remote)
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("max_iter: 300", "max_iter: 50"))
    assert run(root, "git", "commit", "-q", "-am", "tune").returncode == 0
    blocked = run(root, "git", "push", "-q", "origin", "main")
    assert blocked.returncode != 0
    assert "param train.max_iter in params.yaml is 50, dvc.lock has 300" in blocked.stdout
    assert _remote_head(remote) == released
    # A commit whose dvc.lock is not the checked workspace's is refused too.
    params.write_text(params.read_text().replace("max_iter: 50", "max_iter: 300"))
    (root / "dvc.lock").write_text((root / "dvc.lock").read_text() + "# local edit\n")
    blocked = run(root, "git", "push", "-q", "origin", "main")
    assert blocked.returncode != 0
    assert "has a different dvc.lock than the checked workspace" in blocked.stdout


def test_hook_refuses_to_replace_a_foreign_hook(project: Callable[[str], Path]) -> None:
    root = project("released")
    hook = root / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nexit 0\n")
    proc = lifegate(root, "dvc", "install-hook")
    assert proc.returncode == 2
    assert "was not written by lifegate" in proc.stderr
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
