"""Runs one measured process: bench/run's only way to start a runtime.

run_measured(argv) starts argv (where the string "{spawn_ns}" is replaced by
CLOCK_MONOTONIC in nanoseconds just before the process is created), waits for it with
waitpid, and returns the JSON object it printed last on stdout (else {"stdout": its
end}). On failure (exit status, signal, timeout): {"error": why}. Peak memory is the
child's own report (VmHWM): ru_maxrss from wait4 would include this parent's, since
posix_spawn shares the parent's memory until exec.

`python3 bench/spawn.py --agent` reads one JSON argv per line on stdin and answers each
with one JSON line: the Debian 13 build runs inside the trixie root, so bench/run starts
one agent there (scripts/trixie-root) and the agent starts that build's processes, with
the same clock and the same accounting as on the host.
"""
import json
import os
import signal
import sys
import tempfile
import threading
import time


def run_measured(argv, timeout=1800):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        spawn_ns = time.monotonic_ns()
        argv = [a.replace("{spawn_ns}", str(spawn_ns)) for a in argv]
        try:
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        except OSError as e:
            return {"error": f"{argv[0]}: {e}"}
        timer = threading.Timer(timeout, os.kill, (pid, signal.SIGKILL))
        timer.start()
        _, status = os.waitpid(pid, 0)
        timed_out = not timer.is_alive()
        timer.cancel()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if timed_out:
        return {"error": f"timed out after {timeout} s"}
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        return {"error": f"exit {code}: {tail or stdout.strip()[-300:]}"}
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"stdout": stdout[-2000:]}


def agent():
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run_measured(request["argv"], request.get("timeout", 1800))), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--agent"]:
        agent()
    else:
        sys.exit("usage: bench/spawn.py --agent")
