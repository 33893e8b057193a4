"""What the CLI tests share: run the edgeclr binary, record checks, end with the
'N passed, N failed' line CI reads, exit 1 on any failure."""
import subprocess
import sys

failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)


def run(binary, *args, timeout=600):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def finish():
    for f in failures:
        print("FAIL:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)
