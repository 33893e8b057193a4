"""The PEP 517 build backend of `pip install .` (pyproject.toml): CMake builds the module,
and this file packs it into a wheel, with nothing fetched: no setuptools, no
scikit-build from PyPI, so `pip install .` works offline with Debian's packages.

EDGECLR_BUILD_DIR: an existing CMake build folder to use (only the module is built in it,
so a configured `make` build costs nothing more); default build/pip, configured here.
The module links Debian's shared XNNPACK, pthreadpool, cpuinfo, libjpeg and SQLite: the
wheel is for this machine (its platform tag says so), as a Debian package would be.
"""
import base64
import hashlib
import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME, VERSION = "edgeclr", "0.1.0"


def _version():
    for line in (ROOT / "CMakeLists.txt").read_text().splitlines():
        if line.startswith("project(edgeclr VERSION "):
            return line.split()[2]
    return VERSION


def _build_module():
    build = pathlib.Path(os.environ.get("EDGECLR_BUILD_DIR") or ROOT / "build" / "pip").resolve()
    if not (build / "CMakeCache.txt").exists():
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                        "-DEDGECLR_BUILD_TESTS=OFF", f"-DPython3_EXECUTABLE={sys.executable}"], check=True,
                       stdout=sys.stderr)
    subprocess.run(["cmake", "--build", str(build), "--target", "edgeclr_python", "-j", str(os.cpu_count() or 1)],
                   check=True, stdout=sys.stderr)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    module = build / "python" / "edgeclr" / f"_edgeclr{suffix}"
    if not module.exists():
        raise RuntimeError(f"edgeclr: {module} was not built (is {build} configured for {sys.executable}?)")
    return module


def _tag():
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{python}-{python}-{platform}"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _metadata(version):
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n"
            "Summary: Contrastive image encoders on small CPUs: the device's embeddings on the server\n"
            "License: see the edgeclr repository\nRequires-Python: >=3.9\n"
            # NumPy is not declared, so pip never fetches it: Debian's python3-numpy (a venv
            # made with --system-site-packages) or one the user installs.
            "\nThe edgeclr runtime for Python; see docs/python.md in the repository.\n")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    module = _build_module()
    dist_info = f"{NAME}-{version}.dist-info"
    files = {
        "edgeclr/__init__.py": (ROOT / "python" / "edgeclr" / "__init__.py").read_bytes(),
        f"edgeclr/{module.name}": module.read_bytes(),
        f"{dist_info}/METADATA": _metadata(version).encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: edgeclr build_backend\nRoot-Is-Purelib: false\nTag: {_tag()}\n".encode(),
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = f"{NAME}-{version}-{_tag()}.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


def get_requires_for_build_wheel(config_settings=None):
    return []  # CMake and a compiler come from Debian (scripts/install-deps), not from PyPI
