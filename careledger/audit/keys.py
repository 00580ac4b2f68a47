"""The Ed25519 key that signs checkpoints: created once, readable only by its owner.

Ed25519 (from `cryptography`, which wraps OpenSSL): short keys and signatures, one
fixed algorithm with no parameters to get wrong, deterministic signatures (no random
number per signature that could leak the key), and verifiers in every language.

A key kept beside the database proves nothing to someone who controls both; its worth
comes from the public key and the checkpoints being handed out (to auditors, to another
system) as they are made. In production `CARELEDGER_AUDIT_KEY` names a key file that
lives apart from the database's host.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from careledger.audit.errors import AuditError


class AuditKeyError(AuditError):
    """The key file is missing, unreadable or not an Ed25519 private key."""


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path`; a new one (mode 0600) if there is none yet.

    The new key is written whole to a private temporary file, then linked into place:
    processes racing to create it all end up with the first one's key, never a torn file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return load_private_key(path)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise AuditKeyError(f"no audit key at {path}; create one with `careledger audit "
                            "checkpoint` or set CARELEDGER_AUDIT_KEY") from None
    except (OSError, ValueError, TypeError) as e:
        raise AuditKeyError(f"cannot read the audit key at {path} ({type(e).__name__}); "
                            "check CARELEDGER_AUDIT_KEY") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"the audit key at {path} is not an Ed25519 private key; "
                            "check CARELEDGER_AUDIT_KEY")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
