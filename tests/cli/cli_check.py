"""What the CLI tests share: run the edgeclr binary, record checks, end with the
'N passed, N failed' line CI reads, exit 1 on any failure.

In a cross build the binaries are the target's: EDGECLR_TEST_EMULATOR holds the command
that runs them (qemu-user with its options, space-separated), set by tests/cli/CMakeLists.txt."""
import os
import shlex
import struct
import subprocess
import sys
import zlib

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


def read_png_rgb(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB PNG, filters undone."""
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and colour == 2, f"{path}: depth {depth} colour type {colour}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * 3, [], bytearray(width * 3)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b = line[i - 3] if i >= 3 else 0, previous[i]
            c = previous[i - 3] if i >= 3 else 0
            p = a + b - c
            predictor = (0, a, b, (a + b) // 2,
                         a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c)[kind]
            line[i] = (line[i] + predictor) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows
