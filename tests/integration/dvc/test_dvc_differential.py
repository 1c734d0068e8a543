"""Differential test: lifegate's own reading of ``dvc.lock`` / ``*.dvc`` files and its MD5
(``.dir``) hashes against DVC's own code, on a project built with real ``dvc add`` and
``dvc repro``.

lifegate parses the lock and hashes the workspace itself (one read gives MD5 and SHA-256, see
``plugins/_dvc_project.py`` and ``_dvc_digests.py``). Here DVC is the oracle: its ``Repo``
loads the same stages, and each output's ``get_hash()`` hashes the workspace the way ``dvc
status`` does. The project has single files, folders with nested files, an empty folder,
unicode and spaces in names, names that sort differently as paths and as strings, params (keys
and a whole section), ``cache: false`` outputs and metrics, a ``foreach`` stage and a stage
with its own ``wdir``; each test spoils a copy and compares.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dvc_support import run

from lifegate.plugins._dvc_checks import _current_md5, expand, lock_findings
from lifegate.plugins._dvc_digests import Digests
from lifegate.plugins._dvc_project import Project, read_project

MAKE = '''
import pathlib, sys
what = sys.argv[1]
if what == "prepare":
    for rel, text in {"train/part 1.csv": "1,2\\n", "train/part-2.csv": "3,4\\n",
                      "täst/x.csv": "5\\r\\n6\\r\\n", "a/b/c/deep.txt": "deep",
                      "a-b/z.txt": "z", "a.b": "dot"}.items():
        p = pathlib.Path("prepared", rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, newline="")
    pathlib.Path("prepared", "empty folder").mkdir(exist_ok=True)
elif what == "train":
    pathlib.Path("model dir").mkdir(exist_ok=True)
    pathlib.Path("model dir", "model.bin").write_bytes(bytes(range(256)) * 40)
    pathlib.Path("notes.txt").write_text("trained")
    pathlib.Path("metrics.json").write_text('{"acc": 0.9}')
elif what == "report":
    pathlib.Path("reports").mkdir(exist_ok=True)
    pathlib.Path("reports", sys.argv[2] + ".txt").write_text(sys.argv[2])
else:
    pathlib.Path("out.txt").write_text(pathlib.Path("input.txt").read_text().upper())
'''

DVC_YAML = '''
stages:
  prepare:
    cmd: python make.py prepare
    deps: [raw.csv, make.py, data/imgs]
    params: [seed]
    outs: [prepared]
  train:
    cmd: python make.py train
    deps: [prepared]
    params: [train]
    outs:
      - model dir/model.bin
      - notes.txt:
          cache: false
    metrics:
      - metrics.json:
          cache: false
  report:
    foreach: [a, b]
    do:
      cmd: python make.py report ${item}
      deps: [notes.txt]
      outs: ["reports/${item}.txt"]
  shout:
    wdir: sub
    cmd: python ../make.py shout
    deps: [input.txt]
    params: [k]
    outs: [out.txt]
'''


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, newline="")


def _ok(root: Path, *cmd: str) -> None:
    r = run(root, *cmd)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout}{r.stderr}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project after ``dvc add`` and ``dvc repro`` (copied for each test)."""
    root = tmp_path_factory.mktemp("dvc-differential") / "project"
    root.mkdir()
    _ok(root, "git", "init", "-q")
    _ok(root, sys.executable, "-m", "dvc", "init", "-q")
    _write(root, {
        "raw.csv": "a,b\r\n1,2\r\n",
        "data/imgs/a/x.png": b"\x89PNG\x00" * 50, "data/imgs/a-b/x.png": b"ab",
        "data/imgs/a.b": b"dot", "data/imgs/ünïcödé/ça va.txt": "ça va",
        "data/imgs/with space/deep/er/f.bin": bytes(range(256)),
        "lone/only.txt": "one file in a folder",
        "make.py": MAKE, "dvc.yaml": DVC_YAML,
        "params.yaml": "seed: 7\ntrain:\n  lr: 0.1\n  layers: [8, 4]\n  opt: {name: sgd}\n",
        "sub/input.txt": "shout", "sub/params.yaml": "k: 1\n",
    })
    (root / "data" / "imgs" / "empty").mkdir()
    (root / "nothing").mkdir()
    _ok(root, sys.executable, "-m", "dvc", "add", "-q", "data/imgs", "lone", "nothing")
    _ok(root, sys.executable, "-m", "dvc", "repro", "-q")
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(built, dest, symlinks=True)
    return dest


# -- what DVC says -----------------------------------------------------------------------------

def _rel(root: str, fs_path: str) -> str:
    return Path(os.path.relpath(fs_path, root)).as_posix()


def dvc_view(root: Path) -> dict[str, Any]:
    """DVC's own reading of every stage: tracked entries (as lifegate's ``Tracked`` fields),
    params, each entry's workspace hash, and the params DVC sees changed."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    tracked, params, current, changed_params = set(), {}, {}, set()
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            name = stage.name if isinstance(stage, PipelineStage) \
                else _rel(repo.root_dir, stage.path)
            for kind, items in (("dep", stage.deps), ("out", stage.outs)):
                for o in items:
                    path = _rel(repo.root_dir, o.fs_path)
                    if isinstance(o, ParamsDependency):
                        params[(name, path)] = dict(o.hash_info.value or {})
                        changed_params |= {(name, f"{path}:{k}")
                                           for keys in o.status().values() for k in keys}
                        continue
                    # lifegate's ``cache`` says "a dataset": a cached out, not a metric/plot
                    cache = o.use_cache and not (o.is_metric or o.is_plot) \
                        if kind == "out" else None
                    tracked.add((name, kind, path, o.hash_info.value,
                                 o.hash_info.name, cache))
                    current[path] = o.get_hash().value
    return {"tracked": tracked, "params": params, "current": current,
            "changed_params": changed_params}


# -- what lifegate says ------------------------------------------------------------------------

def lifegate_view(root: Path) -> dict[str, Any]:
    project = read_project(root, ["dvc.yaml"])
    files, missing = expand(project, set(), [])
    digests = Digests(project.root)
    digests.digest(sorted({f for fs in files.values() for f in fs}), lambda rel: None)
    tracked, params, current = set(), {}, {}
    for stage in project.stages:
        for t in (*stage.deps, *stage.outs):
            tracked.add((stage.name, t.kind, t.path, t.md5, t.hash_name,
                         t.cache if t.kind == "out" else None))
            current[t.path] = _current_md5(t, files[t.path], digests) \
                if t.path in files else None
        params.update({(stage.name, f): v for f, v in stage.params.items()})
    findings = lock_findings(project, set(), files, digests)
    return {"tracked": tracked, "params": params, "current": current, "missing": missing,
            "changed": {f.location for f in findings if f.rule == "RELEASE-CHANGED"},
            "changed_params": {(f.message.split()[1].rstrip(":"), f.location)
                               for f in findings if f.rule == "RELEASE-PARAM-CHANGED"},
            "project": project}


def assert_same(root: Path) -> dict[str, Any]:
    dvc, ours = dvc_view(root), lifegate_view(root)
    assert ours["tracked"] == dvc["tracked"]
    assert ours["params"] == dvc["params"]
    assert {p: v for p, v in ours["current"].items() if v is not None} == \
        {p: v for p, v in dvc["current"].items() if v is not None}
    locked = {path: md5 for _, _, path, md5, _, _ in dvc["tracked"]}
    dvc_changed = {p for p, v in dvc["current"].items() if v != locked[p]}
    assert ours["changed"] == dvc_changed
    assert ours["changed_params"] == dvc["changed_params"]
    return ours


# -- the cases ---------------------------------------------------------------------------------

def test_the_reproduced_project_reads_and_hashes_as_dvc_does(project: Path) -> None:
    ours = assert_same(project)
    p: Project = ours["project"]
    names = {s.name for s in p.stages}
    assert {"prepare", "train", "report@a", "report@b", "shout", "data/imgs.dvc",
            "lone.dvc", "nothing.dvc"} <= names
    assert ours["changed"] == set() and ours["changed_params"] == set()
    assert ours["current"]["nothing"] == "d751713988987e9331980363e24189ce.dir"  # md5("[]")
    assert {t.path for t in p.stage("shout").outs} == {"sub/out.txt"}  # type: ignore[union-attr]


def _append(rel: str, data: str = "!") -> Callable[[Path], None]:
    def spoil(root: Path) -> None:
        with (root / rel).open("a", encoding="utf-8") as f:
            f.write(data)
    return spoil


def _add(rel: str, data: str = "new") -> Callable[[Path], None]:
    return lambda root: _write(root, {rel: data})


def _add_all(files: dict[str, str | bytes]) -> Callable[[Path], None]:
    return lambda root: _write(root, files)


def _remove(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def spoil(root: Path) -> None:
        p = root / rel
        p.write_text(p.read_text().replace(old, new))
    return spoil


SPOILS: dict[str, tuple[Callable[[Path], None], set[str]]] = {  # name -> (spoil, changed)
    "single file changed": (_append("raw.csv"), {"raw.csv"}),
    "nested file in a stage output changed": (_append("prepared/a/b/c/deep.txt"),
                                              {"prepared"}),
    "file with a space changed": (_append("prepared/train/part 1.csv"), {"prepared"}),
    "unicode file added to a tracked folder": (_add("data/imgs/ünïcödé/nöu.txt"),
                                               {"data/imgs"}),
    "file removed from a tracked folder": (_remove("data/imgs/a-b/x.png"), {"data/imgs"}),
    "empty folder added in a tracked folder": (
        lambda root: (root / "data" / "imgs" / "a" / "new empty").mkdir(), set()),
    "file added to an empty tracked folder": (_add("nothing/x"), {"nothing"}),
    "uncached output changed": (_append("notes.txt"), {"notes.txt"}),
    "metric changed": (_edit("metrics.json", "0.9", "0.8"), {"metrics.json"}),
    "foreach output changed": (_append("reports/b.txt"), {"reports/b.txt"}),
    "file under a wdir changed": (_append("sub/input.txt"), {"sub/input.txt"}),
    "model file changed": (_append("model dir/model.bin"), {"model dir/model.bin"}),
    "file matched by .dvcignore added to a tracked folder": (
        _add_all({".dvcignore": "*.tmp\n", "data/imgs/a/scratch.tmp": "t"}), set()),
    "folders matched by .dvcignore added to a tracked folder": (
        _add_all({".dvcignore": "scratch/\n", "prepared/scratch/x.bin": "x",
                  "prepared/a/scratch/y.bin": "y"}), set()),
    ".git folder added inside a tracked folder": (_add("data/imgs/.git/HEAD", "ref"), set()),
    "same bytes written again": (lambda root: _write(root, {
        "raw.csv": (root / "raw.csv").read_bytes()}), set()),
}


@pytest.mark.parametrize("name", list(SPOILS))
def test_spoiled_workspace_hashes_as_dvc_does(project: Path, name: str) -> None:
    spoil, expected = SPOILS[name]
    spoil(project)
    ours = assert_same(project)
    assert ours["changed"] == expected  # the case spoils what it says


PARAM_SPOILS: dict[str, tuple[Callable[[Path], None], set[tuple[str, str]]]] = {
    "a tracked key": (_edit("params.yaml", "seed: 7", "seed: 8"),
                      {("prepare", "params.yaml:seed")}),
    "a value in a tracked section": (_edit("params.yaml", "lr: 0.1", "lr: 0.2"),
                                     {("train", "params.yaml:train.lr")}),
    "a key added to a tracked section": (_edit("params.yaml", "lr: 0.1", "lr: 0.1\n  wd: 1"),
                                         {("train", "params.yaml:train.wd")}),
    "a params file under a wdir": (_edit("sub/params.yaml", "k: 1", "k: 2"),
                                   {("shout", "sub/params.yaml:k")}),
    "an untracked key": (_edit("params.yaml", "seed: 7", "seed: 7\nother: 1"), set()),
}


@pytest.mark.parametrize("name", list(PARAM_SPOILS))
def test_changed_params_are_the_ones_dvc_sees(project: Path, name: str) -> None:
    spoil, expected = PARAM_SPOILS[name]
    spoil(project)
    dvc = dvc_view(project)
    ours = lifegate_view(project)
    assert ours["params"] == dvc["params"]
    # DVC names a changed section by the section; lifegate by the leaf that differs
    assert {(s, loc.split(":")[0] + ":" + loc.split(":")[1].split(".")[0])
            for s, loc in ours["changed_params"]} == dvc["changed_params"]
    assert ours["changed_params"] == expected


def _iter_lock(root: Path) -> Iterator[str]:
    yield from (root / "dvc.lock").read_text(encoding="utf-8").splitlines()


def test_lock_written_by_dvc_is_the_lock_lifegate_reads(project: Path) -> None:
    """Every md5 in dvc.lock and the .dvc files is one lifegate read (none skipped)."""
    ours = lifegate_view(project)
    md5s = {line.split("md5:")[1].strip() for line in _iter_lock(project) if "md5:" in line}
    for dvc_file in ("data/imgs.dvc", "lone.dvc", "nothing.dvc"):
        md5s |= {line.split("md5:")[1].strip() for line in
                 (project / dvc_file).read_text(encoding="utf-8").splitlines()
                 if "md5:" in line}
    assert md5s == {md5 for _, _, _, md5, _, _ in ours["tracked"]}
