"""One home per rule: each rule the doctor applies in more than one place is written once here.

An index URL, a GPU's identity, a version comparison, a default timeout, the grammar of a device
name: imported everywhere they are needed and tested in ``tests/rules/``. These modules import only
the standard library, ``packaging`` and :mod:`torchdoctor.model`; everything else may import them.
"""
