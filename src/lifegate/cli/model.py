"""``lifegate sign``, ``verify``, ``revoke``: signed model releases."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from lifegate.cli.options import console, policy_options, run_cli_gate
from lifegate.core import Policy
from lifegate.core.errors import ConfigError

_model_arg = click.argument("model_path", type=click.Path(path_type=Path))
_sig_opt = click.option("--signature", type=click.Path(path_type=Path), default=None,
                        help="signature file (default: <model>.sig beside the model)")


def _settings(policy: Policy, gate_id: str, **values: object) -> None:
    """Command-line options override the gate's settings in the policy."""
    from lifegate.core.policy import GateConfig

    cfg = policy.gates.setdefault(gate_id, GateConfig())
    cfg.settings.update({k: v for k, v in values.items() if v not in (None, (), [])})


@click.command("sign")
@_model_arg
@_sig_opt
@click.option("--key", "key", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="PEM private key, EC P-256/384/521 (default: $LIFEGATE_MODEL_SIGNING_KEY, "
              "then the policy's signing key)")
@click.option("--hash", "hash_type", type=click.Choice(["sha256", "blake3"]), default=None,
              help="file digest algorithm (default sha256)")
@policy_options
def sign_cmd(policy: Policy, model_path: Path, signature: Path | None, key: Path | None,
             hash_type: str | None) -> None:
    """LG-SIGN: sign MODEL_PATH (file or folder) in the OpenSSF model-signing format."""
    _settings(policy, "LG-SIGN", private_key=str(key.resolve()) if key else None,
              hash=hash_type)
    run_cli_gate("LG-SIGN", policy, model=str(model_path.resolve()),
                 **({"signature": str(signature.resolve())} if signature else {}))


@click.command("verify")
@_model_arg
@_sig_opt
@click.option("--public-key", "public_keys", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="public key of the key that signed the model, which the policy trusts by "
              "fingerprint (repeatable); a key that did not sign it is an error")
@click.option("--allow-unsigned-files", is_flag=True, default=None,
              help="do not fail on files added after signing")
@click.option("--require-release/--no-require-release", default=None,
              help="require the signed release manifest (default: the policy, else yes)")
@policy_options
def verify_cmd(policy: Policy, model_path: Path, signature: Path | None,
               public_keys: tuple[Path, ...], allow_unsigned_files: bool | None,
               require_release: bool | None) -> None:
    """LG-VERIFY: check MODEL_PATH against its signature, trusted keys, revocations and
    release manifest."""
    _settings(policy, "LG-VERIFY", public_keys=[str(p.resolve()) for p in public_keys],
              allow_unsigned_files=allow_unsigned_files,
              require_release_manifest=require_release)
    run_cli_gate("LG-VERIFY", policy, model=str(model_path.resolve()),
                 **({"signature": str(signature.resolve())} if signature else {}))


@click.command("scan")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--sarif", "sarif_out", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="also write the findings as SARIF to this file")
@policy_options
def scan_cmd(policy: Policy, path: Path, sarif_out: Path | None) -> None:
    """LG-SCAN: scan model files for unsafe deserialization (before signing or loading)."""
    _settings(policy, "LG-SCAN", sarif_out=str(sarif_out.resolve()) if sarif_out else None)
    run_cli_gate("LG-SCAN", policy, model=str(path.resolve()))


@click.command("revoke")
@click.argument("model_digest")
@click.option("--reason", required=True, help="why the release must no longer be used")
@click.option("--by", default=None, help="who revokes it (default: current user)")
@policy_options
def revoke_cmd(policy: Policy, model_digest: str, reason: str, by: str | None) -> None:
    """Record a signed revocation of the release with root digest MODEL_DIGEST."""
    import re

    from lifegate.evidence.ledger import open_ledger
    from lifegate.evidence.statement import PredicateType, revocation_statement

    digest = model_digest.removeprefix("sha256:").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ConfigError(f"{model_digest!r} is not a sha256 digest",
                          fix="use the model root digest that `lifegate sign` printed")
    led = open_ledger(policy)
    if led.signer is None:
        raise ConfigError("a revocation must be signed, and no signing key is set",
                          fix="run `lifegate keys generate`")
    stmt = revocation_statement(system=policy.system.name, name="model", digest=digest,
                                reason=reason, by=by or getpass.getuser())
    ref = led.append(stmt, PredicateType.REVOCATION)
    console.print(f"release {digest[:12]} revoked, recorded as {ref}")


@click.group("release")
def release_group() -> None:
    """The signed release manifest of a model."""


@release_group.command("add")
@click.argument("kind")
@click.argument("artifact", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path))
@policy_options
def release_add(policy: Policy, kind: str, artifact: Path, model_path: Path) -> None:
    """Bind ARTIFACT (an SBOM, a disclosure, an approval ...) to the model's release as KIND."""
    from lifegate.evidence.keys import Signer
    from lifegate.evidence.ledger import open_ledger, trusted_keys
    from lifegate.evidence.release import add_entry, manifest_path

    led = open_ledger(policy)
    if led.signer is None or not policy.keys.signing_key:
        raise ConfigError("adding to a release re-signs it, and no signing key is set",
                          fix="run `lifegate keys generate`")
    signer = Signer.from_file(policy.resolve(policy.keys.signing_key))
    manifest = add_entry(manifest_path(model_path.resolve()), kind, artifact.resolve(), signer,
                         trusted_keys(policy), led)
    console.print(f"release {manifest.model_root_digest[:12]} now holds: "
                  f"{', '.join(sorted(manifest.entries))}")


@release_group.command("show")
@click.argument("model_path", type=click.Path(path_type=Path))
@policy_options
def release_show(policy: Policy, model_path: Path) -> None:
    """Print the verified release manifest of MODEL_PATH."""
    from lifegate.evidence.ledger import trusted_keys
    from lifegate.evidence.release import manifest_path, read_manifest

    manifest = read_manifest(manifest_path(model_path.resolve()), trusted_keys(policy))
    click.echo(manifest.model_dump_json(indent=2))


COMMANDS = [scan_cmd, sign_cmd, verify_cmd, revoke_cmd, release_group]
