"""The compact ICD-10-CM file is the library's data, code by code, and the domain reads it."""

from __future__ import annotations

import importlib.util

import pytest

from careledger.domain import icd10
from careledger.domain.clinical import Diagnosis
from careledger.domain.errors import InvalidInput
from tests.helpers import ROOT


def test_the_shipped_file_is_what_the_pinned_library_gives() -> None:
    """If this fails after the library changed, `make icd10` rebuilds the file."""
    spec = importlib.util.spec_from_file_location("build_icd10", ROOT / "tools/build_icd10.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert (ROOT / "careledger/domain/icd10cm.tsv").read_bytes() == build.compact()


def test_every_line_of_the_file_is_found_by_its_code() -> None:
    codes = icd10.code_set()
    lines = (ROOT / "careledger/domain/icd10cm.tsv").read_text().splitlines()
    assert len(lines) > 90_000
    for line in lines:
        code, leaf, description = line.split("\t", 2)
        assert codes.lookup(code) == (leaf == "1", description), code


def test_codes_are_found_with_their_billability_and_description() -> None:
    codes = icd10.code_set()
    assert codes.lookup("M54.50") == (True, "Low back pain, unspecified")
    assert codes.lookup("M54.5") == (False, "Low back pain")
    assert codes.lookup("A00") == (False, "Cholera")
    assert codes.lookup("S13.4XXA") is not None and codes.lookup("S13.4XXA")[0]
    assert codes.lookup("M54.9999") is None
    assert codes.lookup("") is None and codes.lookup("ZZZ") is None
    assert codes.lookup("A00.0") and codes.lookup("Z99.89")  # the first lines, the last
    assert codes.lookup("0") is None and codes.lookup("\t") is None


def test_a_description_may_hold_a_tab() -> None:
    found = icd10.code_set().lookup("H35.3113")
    assert found is not None and "\t" in found[1]


def test_the_first_release_wrote_codes_without_their_dot() -> None:
    assert icd10.description("M545") == "Low back pain"
    assert icd10.description("M54.2") == "Cervicalgia"
    with pytest.raises(ValueError, match="no ICD-10-CM code"):
        icd10.description("M549999")


def test_a_diagnosis_is_a_billable_code() -> None:
    assert Diagnosis.of(" m54.50 ") == Diagnosis("M54.50", "Low back pain, unspecified")
    with pytest.raises(InvalidInput, match="category"):
        Diagnosis.of("M54.5")
    with pytest.raises(InvalidInput, match="not an ICD-10-CM code"):
        Diagnosis.of("M54.99")
    with pytest.raises(InvalidInput, match="not an ICD-10-CM code"):
        Diagnosis.of("hello")
