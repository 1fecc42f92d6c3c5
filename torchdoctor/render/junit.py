"""JUnit XML: one testcase per check and per smoke step, for Jenkins/GitLab/GitHub test reporters.

A fired error is a <failure>; a warning or note passes with its text in <system-out>; a check that
could not run, or was ignored, and a skipped smoke step are <skipped>.

The shape is the one both common schemas accept: Jenkins xunit's junit-10.xsd (no `skipped=` on
`<testsuites>`) and Maven Surefire's (each `<testsuite>` with `skipped=`, every `<testcase>` with a
`time`, no `hostname=`); tests/render/ vendors both and validates every report against them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from torchdoctor.model import CheckStatus, Finding, Report, Severity, SmokeFacts, StepStatus


def _finding_text(f: Finding) -> str:
    lines = [f"{f.title} ({f.code} {f.slug}, {f.severity.value})"]
    lines += [f"saw {e.label}: {e.value} ({e.source.value})" for e in f.evidence]
    lines += [f"why: {f.why}", f"fix: {f.fix}"]
    return "\n".join(lines)


def render(report: Report) -> str:
    root = ET.Element("testsuites", name="torchdoctor")
    checks = ET.SubElement(root, "testsuite", name="torchdoctor.checks", timestamp=report.created[:19])
    failures = skipped = 0
    for outcome in report.checks:
        case = ET.SubElement(
            checks, "testcase", classname=f"torchdoctor.{outcome.area}", name=f"{outcome.code} {outcome.slug}", time="0"
        )
        if outcome.status in (CheckStatus.SKIPPED, CheckStatus.IGNORED):
            ET.SubElement(case, "skipped", message=outcome.reason or outcome.status.value)
            skipped += 1
            continue
        errors = [f for f in outcome.findings if f.severity == Severity.ERROR]
        if errors:
            failure = ET.SubElement(case, "failure", message=errors[0].title, type=errors[0].slug)
            failure.text = "\n\n".join(_finding_text(f) for f in outcome.findings)
            failures += 1
        elif outcome.findings:
            ET.SubElement(case, "system-out").text = "\n\n".join(_finding_text(f) for f in outcome.findings)
    checks.set("tests", str(len(report.checks)))
    checks.set("failures", str(failures))
    checks.set("errors", "0")
    checks.set("skipped", str(skipped))
    checks.set("time", "0")
    total, total_failures = len(report.checks), failures
    smoke = report.facts.smoke
    if isinstance(smoke, SmokeFacts):
        for device in smoke.devices:
            suite = ET.SubElement(
                root,
                "testsuite",
                name=f"torchdoctor.smoke.{device.device}",
                timestamp=report.created[:19],
            )
            s_fail = s_skip = 0
            cases = len(device.steps)
            for step in device.steps:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"torchdoctor.smoke.{device.device}",
                    name=step.name,
                    time=f"{step.seconds:.3f}",
                )
                if step.status == StepStatus.FAILED:
                    failure = ET.SubElement(
                        case,
                        "failure",
                        message=step.error.splitlines()[0][:500] if step.error else "failed",
                        type="smoke",
                    )
                    failure.text = f"{step.error}\n{step.detail}".strip()
                    s_fail += 1
                elif step.status == StepStatus.SKIPPED:
                    ET.SubElement(case, "skipped", message=step.detail or "skipped")
                    s_skip += 1
            if device.died and not any(s.status == StepStatus.FAILED for s in device.steps):
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"torchdoctor.smoke.{device.device}",
                    name="device",
                    time=f"{device.seconds:.3f}",
                )
                ET.SubElement(case, "failure", message=device.died, type="smoke")
                s_fail += 1
                cases += 1
            suite.set("tests", str(cases))
            suite.set("failures", str(s_fail))
            suite.set("errors", "0")
            suite.set("skipped", str(s_skip))
            suite.set("time", f"{device.seconds:.3f}")
            total += cases
            total_failures += s_fail
    root.set("tests", str(total))
    root.set("failures", str(total_failures))
    root.set("errors", "0")  # skipped= belongs on each <testsuite> only: junit-10.xsd rejects it here
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
