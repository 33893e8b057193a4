#!/usr/bin/python3
"""`pip install .` into a fresh virtual environment, offline (--no-index: nothing may be
fetched), then `import edgeclr` there, from another folder, giving the build's embeddings.

usage: test_pip_install.py SOURCE_DIR BUILD_DIR   (BUILD_DIR: the CMake build the wheel reuses)
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
import cli_check  # noqa: E402
from cli_check import check  # noqa: E402

SOURCE, BUILD = sys.argv[1], os.path.abspath(sys.argv[2])

with tempfile.TemporaryDirectory() as tmp:
    venv = os.path.join(tmp, "venv")
    # Debian's NumPy comes from the system site-packages; the wheel declares no dependency.
    r = subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], capture_output=True, text=True)
    check(r.returncode == 0, f"venv: {r.stderr!r}")
    python = os.path.join(venv, "bin", "python")
    env = dict(os.environ, EDGECLR_BUILD_DIR=BUILD, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    r = subprocess.run([python, "-m", "pip", "install", SOURCE], capture_output=True, text=True, env=env, timeout=1200)
    check(r.returncode == 0 and "Successfully installed edgeclr" in r.stdout, f"pip install: {r.stdout[-800:]!r} {r.stderr[-800:]!r}")
    code = (
        "import edgeclr, numpy as np, sys\n"
        "m = edgeclr.Model(sys.argv[1])\n"
        "e = edgeclr.Encoder(m).encode(np.full((28, 28, 1), 100, np.uint8))\n"
        "np.save(sys.argv[2], e)\n"
        "print(edgeclr.__file__)\n")
    model = os.path.join(SOURCE, "models", "fashion", "fashion-int8.eclr")
    out_venv, out_build = os.path.join(tmp, "venv.npy"), os.path.join(tmp, "build.npy")
    r = subprocess.run([python, "-c", code, model, out_venv], capture_output=True, text=True, cwd=tmp, env=env)
    check(r.returncode == 0 and r.stdout.startswith(venv), f"import from the venv: {r.stdout!r} {r.stderr!r}")
    r2 = subprocess.run(["/usr/bin/python3", "-c", code, model, out_build], capture_output=True, text=True, cwd=tmp,
                        env=dict(os.environ, PYTHONPATH=os.path.join(BUILD, "python")))
    check(r2.returncode == 0 and r2.stdout.startswith(BUILD), f"import from the build: {r2.stdout!r} {r2.stderr!r}")
    if r.returncode == 0 and r2.returncode == 0:
        check(open(out_venv, "rb").read() == open(out_build, "rb").read(), "the installed module's embedding differs")
cli_check.finish()
