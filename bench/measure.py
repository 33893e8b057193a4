"""Times one peer runtime on one model, in a process of its own (started by bench/spawn.py).

usage: python bench/measure.py PEER ARTIFACT INPUT.npy OUTPUT.npy THREADS SECONDS SPAWN_NS

Loads ARTIFACT with the peer module bench/peers/PEER.py for THREADS threads, runs the
input (float32 (1, C, H, W)) once and saves the output to OUTPUT.npy, then times run()
for about SECONDS (at least 10 runs, at most 300, after one untimed warm-up). Prints the
same JSON object as edgeclr's runner (bench/edgeclr_runner.c): spawn_to_first_ms (from
SPAWN_NS, the parent's CLOCK_MONOTONIC before the process was created: interpreter start
and imports included), load_first_ms (load + first run, in-process), p50_ms, p90_ms, runs,
peak_rss_mb (VmHWM of /proc/self/status: this process's own peak).
"""
import importlib
import json
import sys
import time

MIN_RUNS, MAX_RUNS = 10, 300


def now_ms():
    return time.monotonic_ns() / 1e6


def main():
    peer_name, artifact, input_path, output_path, threads, seconds, spawn_ns = sys.argv[1:8]
    import numpy as np
    peer = importlib.import_module(f"peers.{peer_name}")
    x = np.load(input_path)
    load_start = now_ms()
    runner = peer.load(artifact, int(threads))
    output = runner.run(x)
    first_end = now_ms()
    np.save(output_path, np.asarray(output, np.float32).reshape(-1))
    runner.run(x)  # warm-up, untimed
    latencies, deadline = [], now_ms() + float(seconds) * 1e3
    while len(latencies) < MAX_RUNS and (len(latencies) < MIN_RUNS or now_ms() < deadline):
        start = now_ms()
        runner.run(x)
        latencies.append(now_ms() - start)
    latencies.sort()
    with open("/proc/self/status") as f:
        hwm_kib = next(float(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"spawn_to_first_ms": first_end - int(spawn_ns) / 1e6, "load_first_ms": first_end - load_start,
                      "p50_ms": latencies[len(latencies) // 2],
                      "p90_ms": latencies[int(0.9 * (len(latencies) - 1) + 0.5)], "runs": len(latencies),
                      "peak_rss_mb": hwm_kib / 1024.0}))


if __name__ == "__main__":
    main()
