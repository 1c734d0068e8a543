"""Digest reuse is safe: a digest from the previous record is reused only when size, mtime,
ctime and inode all match and the file was stable before it was hashed; DVC's directory
hash is computed exactly as DVC does."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from lifegate.core.errors import EvidenceError
from lifegate.plugins._dvc_digests import RACY_NS, Digests, dir_md5
from lifegate.plugins._dvc_project import read_project


def _first(root: Path, rels: list[str]) -> dict[str, dict[str, int | str]]:
    d = Digests(root)
    d.digest(rels, lambda rel: None)
    assert d.hashed == len(rels) and d.reused == 0
    return {rel: asdict(f) for rel, f in d.facts.items()}


def _again(root: Path, previous: dict[str, dict[str, int | str]], rels: list[str],
           checked_at_ns: int | None = None) -> Digests:
    d = Digests(root, previous, checked_at_ns or time.time_ns() + 10 * RACY_NS)
    d.digest(rels, lambda rel: None)
    return d


def test_unchanged_files_are_reused(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"a" * 1000)
    (tmp_path / "b.bin").write_bytes(b"b" * 1000)
    prev = _first(tmp_path, ["a.bin", "b.bin"])
    d = _again(tmp_path, prev, ["a.bin", "b.bin"])
    assert (d.reused, d.hashed) == (2, 0)


def test_content_changed_with_mtime_set_back_is_rehashed(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"x" * 4096)
    prev = _first(tmp_path, ["model.bin"])
    st = f.stat()
    f.write_bytes(b"y" * 4096)  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime as before; ctime moves on
    d = _again(tmp_path, prev, ["model.bin"])
    assert d.hashed == 1
    assert d.facts["model.bin"].sha256 != prev["model.bin"]["sha256"]


def test_replaced_file_with_same_size_and_mtime_is_rehashed(tmp_path: Path) -> None:
    f = tmp_path / "data.csv"
    f.write_bytes(b"1,2\n")
    prev = _first(tmp_path, ["data.csv"])
    st = f.stat()
    other = tmp_path / "other"
    other.write_bytes(b"3,4\n")
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    other.replace(f)  # new inode
    d = _again(tmp_path, prev, ["data.csv"])
    assert d.hashed == 1 and d.facts["data.csv"].sha256 != prev["data.csv"]["sha256"]


def test_racily_clean_files_are_not_reused(tmp_path: Path) -> None:
    f = tmp_path / "fresh.bin"
    f.write_bytes(b"z" * 10)
    prev = _first(tmp_path, ["fresh.bin"])
    # The previous record hashed the file within the racy window after its last change.
    d = _again(tmp_path, prev, ["fresh.bin"], checked_at_ns=f.stat().st_ctime_ns + 1)
    assert (d.reused, d.hashed) == (0, 1)


def test_malformed_previous_entries_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    d = _again(tmp_path, {"a": {"sha256": "0" * 64}}, ["a"])
    assert d.hashed == 1


def test_unreadable_file_is_an_evidence_error(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_bytes(b"s")
    f.chmod(0)
    if os.access(f, os.R_OK):
        pytest.skip("running as a user that can read mode-0 files (root)")
    with pytest.raises(EvidenceError, match="cannot read"):
        Digests(tmp_path).digest(["secret"], lambda rel: None)


def test_directory_md5_matches_dvc(tmp_path: Path) -> None:
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta
    from dvc_data.hashfile.tree import Tree

    entries = [("b/x.csv", "0cc175b9c0f1b6a831c399e269772661"),
               ("a.txt", "92eb5ffee6ae2fec3ad71c777531578f")]
    tree = Tree()
    for rel, md5 in entries:
        tree.add(tuple(rel.split("/")), Meta(), HashInfo("md5", md5))
    tree.digest()
    assert tree.hash_info is not None
    assert dir_md5(entries) == tree.hash_info.value


def test_project_without_dvc_folder_is_a_config_error(tmp_path: Path) -> None:
    from lifegate.core.errors import ConfigError

    with pytest.raises(ConfigError, match="not a DVC project"):
        read_project(tmp_path, ["dvc.yaml"])


def test_lock_of_another_schema_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo\n")
    (tmp_path / "dvc.lock").write_text("a:\n  cmd: echo\n")
    with pytest.raises(EvidenceError, match="not a DVC 3 lock file"):
        read_project(tmp_path, ["dvc.yaml"])
