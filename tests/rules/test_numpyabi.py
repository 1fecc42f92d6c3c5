"""NumPy's own mismatch messages, read for which side is older."""

from __future__ import annotations

from torchdoctor.rules.numpyabi import Side, mismatch


def test_a_module_built_against_a_newer_c_api_means_this_numpy_is_older() -> None:
    found = mismatch("RuntimeError: module compiled against API version 0x10 but this version of numpy is 0xe")
    assert found is not None and found.side is Side.OLDER and (found.built, found.here) == ("0x10", "0xe")


def test_numpy_2s_abi_under_a_numpy_1_build_means_this_numpy_is_newer() -> None:
    found = mismatch("module compiled against ABI version 0x1000009 but this version of numpy is 0x2000000")
    assert found is not None and found.side is Side.NEWER and found.what == "ABI"
    assert mismatch("UserWarning: Failed to initialize NumPy: _ARRAY_API not found") == mismatch(
        "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.0 as it may crash."
    )


def test_other_text_and_equal_versions_say_nothing() -> None:
    assert mismatch("ImportError: libcudart.so.12: cannot open shared object file") is None
    assert mismatch("module compiled against API version 0xf but this version of numpy is 0xf") is None
