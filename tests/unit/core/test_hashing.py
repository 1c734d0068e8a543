"""hash_files lets one thread per core take turns on the files a slice at a time (the file with
the most bytes left first); every digest stays the file's plain SHA-256, and a failure on one
thread stops the others and is raised."""

from __future__ import annotations

import errno
import hashlib
import os
import random
from pathlib import Path

import pytest

from lifegate.core import EvidenceError, hashing
from lifegate.core.hashing import hash_files


def _files(root: Path, sizes: list[int]) -> list[Path]:
    paths = []
    for i, n in enumerate(sizes):
        p = root / f"f{i:03d}.bin"
        p.write_bytes(os.urandom(n))
        paths.append(p)
    return paths


@pytest.mark.parametrize("workers", [2, 3, 4])
@pytest.mark.parametrize("sizes", [
    [3_000_000, 3_000_000, 3_000_000],                 # three large files on fewer threads
    [2_500_001, 7, 0, 1_048_576, 1_048_577, 999_999, 0, 3],
    [5_000_000, 10, 20],                               # one file larger than a share
    [1] * 40 + [2_000_000],
], ids=["three-large", "mixed", "one-dominant", "many-small"])
def test_digests_are_each_files_sha256(tmp_path: Path, sizes: list[int], workers: int) -> None:
    paths = _files(tmp_path, sizes)
    random.Random(0).shuffle(paths)
    done: list[int] = []
    got = hash_files(paths, workers=workers, progress=done.append)
    assert [d.path for d in got] == paths
    assert [d.sha256 for d in got] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert [d.size for d in got] == [p.stat().st_size for p in paths]
    assert sum(done) == sum(sizes)


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_a_file_that_changes_while_hashed_is_an_error(tmp_path: Path, change: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The file grows or shrinks between two of its slices (from the progress callback, which
    runs between slices): its digest is refused, whichever way the size went."""
    monkeypatch.setattr(hashing, "SLICE", 4096)
    (path,) = _files(tmp_path, [3 * 4096])

    def meddle(n: int) -> None:
        if change == "grow":
            with path.open("ab") as f:
                f.write(b"x")
        else:
            os.truncate(path, 4096)

    with pytest.raises(EvidenceError, match="changed while it was hashed"):
        hash_files([path], workers=1, progress=meddle)


def test_a_file_that_grows_while_its_last_slice_is_hashed_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer appends while the last slice is being hashed (after the check before it)."""
    monkeypatch.setattr(hashing, "SLICE", 4096)
    (path,) = _files(tmp_path, [2 * 4096])
    real = hashing._hash_range

    def hash_then_append(h, f, start: int, end: int) -> None:  # type: ignore[no-untyped-def]
        real(h, f, start, end)
        if end == 2 * 4096:
            with path.open("ab") as out:
                out.write(b"late")

    monkeypatch.setattr(hashing, "_hash_range", hash_then_append)
    with pytest.raises(EvidenceError, match="changed while it was hashed"):
        hash_files([path], workers=1)


def test_a_file_that_cannot_be_mapped_is_read(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Some file systems refuse mmap (ENODEV): those files are read instead, same digests."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(hashing.mmap, "mmap", refuse)
    monkeypatch.setattr(hashing, "SLICE", 4096)
    paths = _files(tmp_path, [10_000, 0, 4096, 70_000])
    got = hash_files(paths, workers=2)
    assert [d.sha256 for d in got] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_files_take_turns_a_slice_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    """Slices far smaller than the files: every file is hashed across many turns."""
    monkeypatch.setattr(hashing, "SLICE", 4096)
    paths = _files(tmp_path, [300_001, 250_000, 4096, 0, 123_457])
    got = hash_files(paths, workers=3)
    assert [d.sha256 for d in got] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_a_missing_file_or_a_symlink_is_an_error(tmp_path: Path) -> None:
    paths = _files(tmp_path, [1000, 2000, 3000])
    with pytest.raises(EvidenceError, match="file not found"):
        hash_files([*paths, tmp_path / "gone.bin"], workers=2)
    link = tmp_path / "link.bin"
    link.symlink_to(paths[0])
    with pytest.raises(EvidenceError, match="refusing to follow symlink"):
        hash_files([*paths, link], workers=2)


def test_an_error_stops_the_other_threads_and_is_raised(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "SLICE", 4096)
    paths = _files(tmp_path, [200_000, 200_000, 200_000])
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    with pytest.raises(EvidenceError, match="expected a file, found a directory"):
        hash_files([*paths, folder], workers=2)
