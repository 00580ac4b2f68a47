"""Check an inclusion proof with nothing but the proof and the signer's public key.

An auditor outside CareLedger copies this one file and runs it; it imports only the
standard library and `cryptography`, and reads no database:

    python check.py proof.json --public-key careledger-audit.pem

It checks that the checkpoint in the proof was signed by that key, and that the event's
leaf (log position, stream id, version, event hash) hashes up to the checkpoint's
Merkle root along the audit path. The recipes here (leaf and node hashes, the signed
checkpoint text) are the reference: the rest of `careledger.audit` imports them, so the
system and the outside checker cannot drift apart.

Exit status: 0 verified, 1 rejected, 2 the inputs could not be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PROOF_FORMAT = "careledger-inclusion-proof/1"
CHECKPOINT_FORMAT = "careledger-checkpoint/1"
HASH_SIZE = 32

_sha256 = hashlib.sha256
#: RFC 6962 domain separation: a leaf is hashed behind 0x00, an inner node behind 0x01,
#: so no leaf can pass for a node. The leaf binds where the event stands in the log
#: (position), which stream and version it is, and its content (the chained event hash).
_LEAF = struct.Struct(">Bq16sq32s")
_NODE_PREFIX = b"\x01"

#: The root of a tree without leaves (RFC 6962: the hash of the empty string).
EMPTY_ROOT = _sha256(b"").digest()


class ProofError(Exception):
    """The proof does not show what it claims; the message says which part failed."""


def leaf_hash(position: int, stream_id: bytes, version: int, event_hash: bytes) -> bytes:
    return _sha256(_LEAF.pack(0, position, stream_id, version, event_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root a leaf and its audit path imply (RFC 9162, section 2.1.3.2).

    The index and the tree size alone decide on which side each sibling sits, so a
    path that was cut short, padded or reordered gives another root.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, root = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ProofError("the audit path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            root = node_hash(sibling, root)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            root = node_hash(root, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the audit path is shorter than the tree is deep")
    return root


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a key, so a checkpoint says which key must check it."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise ProofError("the public key is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ProofError("the public key is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class SignedCheckpoint:
    """What a checkpoint signs: how far the log went, how many leaves, their root."""

    id: int
    position: int
    leaf_count: int
    root: bytes
    #: UTC, microseconds, `Z`: signed as this exact text.
    created_at: str
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        """The signed text: plain lines, so anyone can rebuild it from the JSON."""
        return (
            f"{CHECKPOINT_FORMAT}\n"
            f"position {self.position}\n"
            f"leaf-count {self.leaf_count}\n"
            f"root {self.root.hex()}\n"
            f"created-at {self.created_at}\n"
            f"key-id {self.key_id}\n"
        ).encode()

    def check_signature(self, public_key: Ed25519PublicKey) -> None:
        if key_id(public_key) != self.key_id:
            raise ProofError(f"checkpoint #{self.id} was signed by key {self.key_id}, "
                             f"not by the given key {key_id(public_key)}")
        try:
            public_key.verify(self.signature, self.message())
        except InvalidSignature:
            raise ProofError(f"the signature of checkpoint #{self.id} does not verify") from None

    def to_json(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "id": self.id, "position": self.position,
                "leaf_count": self.leaf_count, "root": self.root.hex(),
                "created_at": self.created_at, "key_id": self.key_id,
                "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SignedCheckpoint:
        if not isinstance(body, Mapping) or body.get("format") != CHECKPOINT_FORMAT:
            raise ProofError(f"the checkpoint is not in format {CHECKPOINT_FORMAT}")
        return cls(id=_int(body, "id"), position=_int(body, "position"),
                   leaf_count=_int(body, "leaf_count"), root=_hash(body, "root"),
                   created_at=_str(body, "created_at"), key_id=_str(body, "key_id"),
                   signature=_hex(body, "signature", 64))


def check_proof(proof: Mapping[str, Any], public_key: Ed25519PublicKey) -> str:
    """One line saying what was proven; `ProofError` if any part fails."""
    if not isinstance(proof, Mapping) or proof.get("format") != PROOF_FORMAT:
        raise ProofError(f"the file is not a proof in format {PROOF_FORMAT}")
    checkpoint = SignedCheckpoint.from_json(_object(proof, "checkpoint"))
    checkpoint.check_signature(public_key)
    leaf = _object(proof, "leaf")
    index, position, version = _int(leaf, "index"), _int(leaf, "position"), _int(leaf, "version")
    try:
        stream = uuid.UUID(_str(leaf, "stream_id"))
    except ValueError:
        raise ProofError("the proof is malformed: leaf.stream_id is not a UUID") from None
    event_hash = _hash(leaf, "event_hash")
    raw_path = proof.get("audit_path")
    if not isinstance(raw_path, list):
        raise ProofError("the proof is malformed: audit_path is not a list")
    path = [_hex_value(h, "audit_path", HASH_SIZE) for h in raw_path]
    if position > checkpoint.position:
        raise ProofError(f"position {position} is beyond checkpoint #{checkpoint.id} "
                         f"(position {checkpoint.position})")
    leaf_digest = leaf_hash(position, stream.bytes, version, event_hash)
    root = root_from_inclusion(index, checkpoint.leaf_count, leaf_digest, path)
    if root != checkpoint.root:
        raise ProofError(f"the leaf and audit path give root {root.hex()[:16]}..., not the "
                         f"signed root {checkpoint.root.hex()[:16]}...")
    return (f"verified: position {position} (stream {stream}, version {version}, event hash "
            f"{event_hash.hex()}) is leaf {index} of {checkpoint.leaf_count} under checkpoint "
            f"#{checkpoint.id} at position {checkpoint.position}, signed by key "
            f"{checkpoint.key_id} at {checkpoint.created_at}")


def _object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    if not isinstance(value, Mapping):
        raise ProofError(f"the proof is malformed: {name} is not an object")
    return value


def _int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofError(f"the proof is malformed: {name} is not a whole number")
    return value


def _str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ProofError(f"the proof is malformed: {name} is not text")
    return value


def _hex(body: Mapping[str, Any], name: str, size: int) -> bytes:
    return _hex_value(body.get(name), name, size)


def _hex_value(value: object, name: str, size: int) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise ProofError(f"the proof is malformed: {name} is not {size} bytes in hex")
    return raw


def _hash(body: Mapping[str, Any], name: str) -> bytes:
    return _hex(body, name, HASH_SIZE)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check a CareLedger inclusion proof against the signer's public key.")
    parser.add_argument("proof", type=Path, help="the proof JSON (careledger audit prove)")
    parser.add_argument("--public-key", type=Path, required=True,
                        help="the signer's Ed25519 public key, PEM (careledger audit public-key)")
    args = parser.parse_args(argv)
    try:
        proof = json.loads(args.proof.read_bytes())
        public_key = load_public_key(args.public_key.read_bytes())
    except (OSError, ValueError, ProofError) as e:
        print(f"error: cannot read the inputs ({e}); pass the proof JSON from `careledger "
              "audit prove` and the PEM from `careledger audit public-key`", file=sys.stderr)
        return 2
    try:
        print(check_proof(proof, public_key))
    except ProofError as e:
        print(f"rejected: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
