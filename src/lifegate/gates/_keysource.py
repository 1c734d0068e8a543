"""Where a model-signing private key comes from: a file, an environment variable, the policy.

Key material never reaches logs, evidence or exception messages. The ``model_signing`` library
reads keys from a path, so a key from the environment is written to a private temporary file
(mode 0600) for the duration of the signing only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lifegate.core.errors import KeyMaterialError
from lifegate.core.policy import Policy
from lifegate.evidence.keys import MODEL_CURVES, Signer, load_private_key, parse_private_key


@contextmanager
def model_signing_key(policy: Policy, path: str | None, env_var: str
                      ) -> Iterator[tuple[Signer, Path]]:
    """Yield the signer and a path the library can read. Order: path, env var, policy key."""
    if path:
        p = policy.resolve(path)
        yield Signer(load_private_key(p, MODEL_CURVES)), p
        return
    pem = os.environ.get(env_var)
    if pem:
        key = parse_private_key(pem.encode(), f"${env_var}", MODEL_CURVES)
        with tempfile.TemporaryDirectory(prefix="lifegate-key-") as d:
            tmp = Path(d) / "key.pem"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(pem)
            yield Signer(key), tmp
        return
    if policy.keys.signing_key:
        p = policy.resolve(policy.keys.signing_key)
        yield Signer(load_private_key(p, MODEL_CURVES)), p
        return
    raise KeyMaterialError("no key to sign the model with",
                           fix=f"pass --key, set ${env_var} to a PEM private key, or run "
                           "`lifegate keys generate`")
