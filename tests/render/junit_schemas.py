"""The JUnit schemas the consumers use, vendored beside this file with their source and license.

- `junit-10.xsd`: the Jenkins xunit plugin's JUnit type (a `<testsuites>` root; the strict one: no
  `skipped=` on `<testsuites>`, `time` in its SUREFIRE_TIME grammar).
- `surefire-test-report.xsd`: Maven Surefire's (the Ant junit task's shape), one `<testsuite>` per file;
  every suite of ours must validate on its own as such a file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import xmlschema

HERE = Path(__file__).resolve().parent


@cache
def schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(HERE / name))


def assert_valid_junit(xml: str) -> None:
    """Valid against Jenkins' junit-10.xsd as a whole, and each suite against Surefire's schema."""
    schema("junit-10.xsd").validate(xml)
    root = ET.fromstring(xml)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert suites, "no <testsuite>"
    for suite in suites:
        schema("surefire-test-report.xsd").validate(ET.tostring(suite, encoding="unicode"))
