"""What the CLI tests share: run the edgeclr binary, record checks, end with the
'N passed, N failed' line CI reads, exit 1 on any failure.

In a cross build the binaries are the target's: EDGECLR_TEST_EMULATOR holds the command
that runs them (qemu-user with its options, space-separated), set by tests/cli/CMakeLists.txt."""
import os
import shlex
import subprocess
import sys

EMULATOR = shlex.split(os.environ.get("EDGECLR_TEST_EMULATOR", ""))

failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)


def run(binary, *args, timeout=600):
    return subprocess.run([*EMULATOR, binary, *args], capture_output=True, text=True, timeout=timeout)


def finish():
    for f in failures:
        print("FAIL:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)
