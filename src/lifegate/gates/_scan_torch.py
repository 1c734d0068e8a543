"""The one persistent id LG-SCAN accepts: a PyTorch storage reference inside a PyTorch checkpoint.

PERSID / BINPERSID hand a value to the loader's ``persistent_load``, and what that function
does with it is up to the loader: it may look a name up and call it. So every persistent id is
a finding, with one exception that keeps ``torch.save`` checkpoints passing. The rule:

- the pickle is ``<prefix>/data.pkl`` of a PyTorch zip (the archive also holds
  ``<prefix>/version`` or ``<prefix>/.data/version``), or the object pickle of a legacy
  PyTorch file (the stream's first pickle is the literal magic number; the object is the
  fourth pickle);
- the opcode is BINPERSID, and the id is a literal tuple as ``torch.save`` writes it:
  ``("storage", torch.<X>Storage, key: str, location: str, numel: int)`` in a zip, plus a
  sixth item, ``None`` or ``(view_key: str, offset: int, size: int)``, in a legacy file.

torch's own ``persistent_load`` only reads those items; the storage class is a global of the
pickle and must pass the allowlist like every other. Anything else (a text PERSID, another
tag, a computed id, an id outside those two places) is reported.
"""

from __future__ import annotations

from typing import Final

from lifegate.gates._scan_values import Global, brief

__all__ = ["LEGACY_OBJECT_PICKLE", "TORCH_LEGACY_MAGIC", "describe", "is_storage_pid"]

TORCH_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C
LEGACY_OBJECT_PICKLE: Final = 3  # magic, protocol, sys info, the object, storage keys


def _is_storage_class(value: object) -> bool:
    return isinstance(value, Global) and value.module == "torch" and \
        value.name.endswith("Storage") and value.name.isidentifier()


def _is_view(value: object) -> bool:
    return value is None or (isinstance(value, tuple) and len(value) == 3
                             and isinstance(value[0], str)
                             and all(type(v) is int for v in value[1:]))


def is_storage_pid(pid: object, *, legacy: bool) -> bool:
    """Whether ``pid`` is a storage reference exactly as ``torch.save`` writes it."""
    if not isinstance(pid, tuple) or len(pid) != (6 if legacy else 5):
        return False
    tag, cls, key, location, numel = pid[:5]
    return (tag == "storage" and _is_storage_class(cls) and isinstance(key, str)
            and isinstance(location, str) and type(numel) is int and numel >= 0
            and (not legacy or _is_view(pid[5])))


def describe(pid: object) -> str:
    """A short, bounded description of a persistent id for a finding's message."""
    if isinstance(pid, Global):
        return f"the global {pid.module}.{pid.name}"
    return brief(pid, width=120)
