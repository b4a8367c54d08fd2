"""`make audit-deps`: check the installed dependencies for known vulnerabilities (pip-audit).

pip-audit asks an online vulnerability service (the PyPI JSON API by default, or OSV). Without
it nothing can be audited, and pip-audit still says "No known vulnerabilities found" while it
skipped every package. This wrapper reads pip-audit's JSON and says plainly what happened:

- exit 0, "NOT AUDITED": the service could not be reached (offline machine, blocked mirror);
- exit 0, "audited N packages, no known vulnerabilities";
- exit 1 with the list when a vulnerability is known for an installed version.
"""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404 - runs pip-audit from this venv with fixed arguments
import sys
from pathlib import Path


def main() -> int:
    exe = Path(sys.executable).with_name("pip-audit")
    tool = str(exe) if exe.exists() else shutil.which("pip-audit")
    if tool is None:
        print("audit-deps: pip-audit is not installed (pip install -e '.[test]')")
        return 0
    cmd = [tool, "--local", "--format", "json", "--progress-spinner", "off", "--timeout", "20"]
    try:
        proc = subprocess.run(  # noqa: S603  # nosec B603 - fixed argument list
            cmd, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        print("audit-deps: NOT AUDITED - pip-audit timed out reaching the vulnerability service")
        return 0
    try:
        report = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    deps = report.get("dependencies", [])
    if not deps:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(
            "audit-deps: NOT AUDITED - pip-audit could not query a vulnerability service "
            f"({last[:200]}). Run `make audit-deps` on a machine with internet access."
        )
        return 0
    skipped = [d for d in deps if "skip_reason" in d]
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        print(
            f"audit-deps: NOT AUDITED - all {len(deps)} installed packages were skipped: the "
            "vulnerability service (PyPI JSON API) is unreachable or answers 'not found' from "
            "this network. Nothing was checked; run `make audit-deps` where PyPI is reachable."
        )
        return 0
    vulnerable = [d for d in audited if d.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"  {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
    note = f", {len(skipped)} skipped (not on PyPI: local or editable)" if skipped else ""
    if vulnerable:
        print(
            f"audit-deps: {len(vulnerable)} vulnerable package(s) of {len(audited)} audited{note}"
        )
        return 1
    print(f"audit-deps: audited {len(audited)} packages, no known vulnerabilities{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
