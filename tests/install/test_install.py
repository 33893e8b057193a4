#!/usr/bin/env python3
"""Installs a build into a temporary prefix, checks what lands there, then builds
examples/consumer against it (find_package and pkg-config) and runs both programs.

usage: test_install.py [--cmake CMAKE] [--toolchain FILE] [--define=NAME=VALUE] [--flags=FLAGS]
                       BUILD_DIR SOURCE_DIR MODEL IMAGE_A IMAGE_B

In a cross build the consumer is configured with the same toolchain file and run through
EDGECLR_TEST_EMULATOR (see tests/cli/cli_check.py).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import cli_check  # noqa: E402
from cli_check import check  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--cmake", default="cmake")
parser.add_argument("--toolchain")
parser.add_argument("--flags", default="")
parser.add_argument("--define", action="append", default=[], help="NAME=VALUE for the consumer's configure")
parser.add_argument("build")
parser.add_argument("source")
parser.add_argument("model")
parser.add_argument("image_a")
parser.add_argument("image_b")
opts = parser.parse_args()


def step(what, *command, env=None):
    r = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    check(r.returncode == 0, f"{what}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.returncode == 0


def toolchain_path():
    # A relative CMAKE_TOOLCHAIN_FILE is looked up in the build tree, then the source tree.
    for base in (opts.build, opts.source):
        path = os.path.join(base, opts.toolchain)
        if os.path.exists(path):
            return os.path.abspath(path)
    return opts.toolchain


with tempfile.TemporaryDirectory() as tmp:
    prefix = os.path.join(tmp, "prefix")
    if not step("cmake --install", opts.cmake, "--install", opts.build, "--prefix", prefix):
        cli_check.finish()

    def installed(pattern):
        return sorted(glob.glob(os.path.join(prefix, pattern)))

    check(installed("include/edgeclr/edgeclr.h") and installed("include/edgeclr/edgeclr.hpp"), "headers")
    libraries = installed("lib*/**/libedgeclr.so*") + installed("lib*/libedgeclr.so*")
    check(any(os.path.basename(p) == "libedgeclr.so" for p in libraries), f"libedgeclr.so: {libraries}")
    config = installed("lib*/cmake/edgeclr/edgeclrConfig.cmake") + installed("lib*/*/cmake/edgeclr/edgeclrConfig.cmake")
    pc = installed("lib*/pkgconfig/edgeclr.pc") + installed("lib*/*/pkgconfig/edgeclr.pc")
    check(len(config) == 1 and len(pc) == 1, f"package files: {config} {pc}")
    check(not installed("lib*/libedgeclr_static*") and not installed("include/edgeclr/*/"),
          "only the shared library and the public headers are installed")
    cli = os.path.join(prefix, "bin", "edgeclr")
    check(os.path.exists(cli), "bin/edgeclr")
    if os.path.exists(cli):
        r = cli_check.run(cli, "--version")
        check(r.returncode == 0 and r.stdout.startswith("edgeclr "), f"installed CLI --version: {r.returncode} {r.stdout!r}")
    if not (config and pc):
        cli_check.finish()

    consumer = os.path.join(tmp, "consumer")
    configure = [opts.cmake, "-S", os.path.join(opts.source, "examples", "consumer"), "-B", consumer,
                 f"-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror {opts.flags}".strip()]
    if opts.flags:  # only then: an empty value would drop the toolchain's own linker flags
        configure.append(f"-DCMAKE_EXE_LINKER_FLAGS={opts.flags}")
    if opts.toolchain:
        # Cross: the toolchain searches its roots only; the prefix becomes one more root.
        configure += [f"-DCMAKE_TOOLCHAIN_FILE={toolchain_path()}", f"-DCMAKE_FIND_ROOT_PATH={prefix}"]
        configure += [f"-D{d}" for d in opts.define]
    else:
        configure.append(f"-DCMAKE_PREFIX_PATH={prefix}")
    # Only the installed edgeclr.pc, none of the machine's.
    env = dict(os.environ, PKG_CONFIG_LIBDIR=os.path.dirname(pc[0]))
    env.pop("PKG_CONFIG_PATH", None)
    if step("configure examples/consumer", *configure, env=env) and \
            step("build examples/consumer", opts.cmake, "--build", consumer, env=env):
        outputs = []
        for program in ("consumer-cmake", "consumer-pkgconfig"):
            path = os.path.join(consumer, program)
            check(os.path.exists(path), f"{program} was not built")
            if not os.path.exists(path):
                continue
            runpath = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
            check(os.path.realpath(opts.build) not in runpath, f"{program} links the build tree: {runpath}")
            r = cli_check.run(path, opts.model, opts.image_a, opts.image_b)
            m = re.fullmatch(r"edgeclr (\d+\.\d+\.\d+): embedding (\d+), cosine (-?\d\.\d{6})\n", r.stdout)
            check(r.returncode == 0 and m and -1 <= float(m.group(3)) < 0.9999,
                  f"{program}: exit {r.returncode} {r.stdout!r} {r.stderr!r}")
            outputs.append(r.stdout)
            same = cli_check.run(path, opts.model, opts.image_a, opts.image_a)
            check(same.returncode == 0 and same.stdout.endswith("cosine 1.000000\n"), f"{program} same image: {same.stdout!r}")
            missing = cli_check.run(path, opts.model, opts.image_a, os.path.join(tmp, "missing.png"))
            check(missing.returncode == 1 and missing.stderr.startswith("consumer: ") and "missing.png" in missing.stderr,
                  f"{program} missing image: {missing.returncode} {missing.stderr!r}")
        check(len(outputs) == 2 and outputs[0] == outputs[1], f"the two builds disagree: {outputs}")
cli_check.finish()
