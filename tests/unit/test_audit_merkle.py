"""The Merkle tree and its proofs, against RFC 6962's definition and CT's reference vectors."""

from __future__ import annotations

import hashlib
import random

import pytest

from careledger.audit.check import EMPTY_ROOT, ProofError, node_hash, root_from_inclusion
from careledger.audit.merkle import CHUNK, MerkleBuilder, inclusion_path, subtree_root

#: The leaves and tree heads of Certificate Transparency's reference tests.
CT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
             bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATH_OF_LEAF_0_IN_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def ct_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 section 2.1 writes it (recursive split)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:split]), reference_root(leaves[split:]))


def leaves(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(n)]


def test_tree_heads_match_certificate_transparency() -> None:
    hashed = [ct_leaf(d) for d in CT_LEAVES]
    assert subtree_root([]).hex() == hashlib.sha256(b"").hexdigest()
    for size in range(1, 9):
        assert subtree_root(hashed[:size]).hex() == CT_ROOTS[size - 1]
    assert [h.hex() for h in inclusion_path(hashed, 0)] == CT_PATH_OF_LEAF_0_IN_8


@pytest.mark.parametrize("size", [*range(1, 70), CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_roots_grown_in_any_batches_equal_the_rfc_definition(size: int) -> None:
    data = leaves(size)
    rng = random.Random(size)
    builder, done = MerkleBuilder(), 0
    while done < size:
        step = min(size - done, rng.choice([1, 3, 17, CHUNK - 1, CHUNK + 7]))
        builder.extend(data[done:done + step])
        done += step
        assert builder.root() == reference_root(data[:done])
    assert builder.size == size
    assert subtree_root(data) == reference_root(data)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 31, 33, 100])
def test_every_leaf_proves_its_inclusion(size: int) -> None:
    data = leaves(size)
    root = reference_root(data)
    for index in range(size):
        path = inclusion_path(data, index)
        assert root_from_inclusion(index, size, data[index], path) == root


def test_a_path_proves_nothing_for_another_leaf_index_or_shape() -> None:
    data = leaves(13)
    root, path = reference_root(data), inclusion_path(data, 6)
    assert root_from_inclusion(6, 13, data[5], path) != root
    assert root_from_inclusion(5, 13, data[6], path) != root
    with pytest.raises(ProofError, match="longer"):
        root_from_inclusion(6, 13, data[6], [*path, path[0]])
    with pytest.raises(ProofError, match="shorter"):
        root_from_inclusion(6, 13, data[6], path[:-1])
    with pytest.raises(ProofError, match="outside"):
        root_from_inclusion(13, 13, data[6], path)
    last = inclusion_path(data, 12)  # the lone last leaf: two siblings, not four
    assert root_from_inclusion(12, 13, data[12], last) == root
    with pytest.raises(ProofError, match="shorter"):
        root_from_inclusion(12, 16, data[12], last)
