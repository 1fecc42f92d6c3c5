"""The grammars of the environment variables the doctor records: each one compiles (they are compiled when a value
is first read, so a broken one would surface only on a machine that sets that variable) and judges values."""

from __future__ import annotations

import pytest

from torchdoctor.rules import envvars


@pytest.mark.parametrize("name", sorted(envvars.KNOWN))
def test_every_grammar_compiles_and_refuses_control_characters(name: str) -> None:
    assert envvars._compiled(name) is not None
    assert not envvars.fits(name, "1\n2")


@pytest.mark.parametrize(
    "name, value, fits",
    [
        ("NCCL_BLOCKING_WAIT", "1", True),
        ("NCCL_BLOCKING_WAIT", "maybe", False),
        ("NCCL_TIMEOUT", "1800", True),
        ("NCCL_TIMEOUT", "30m", False),
        ("NOT_A_KNOWN_VARIABLE", "1", False),
    ],
)
def test_a_value_fits_its_variables_grammar(name: str, value: str, fits: bool) -> None:
    assert envvars.fits(name, value) is fits
