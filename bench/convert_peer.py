"""Converts one model for one peer runtime, in a process of its own.

usage: python bench/convert_peer.py PEER MODEL PRECISION MODELS_DIR OUT_DIR

Prints one JSON object: {"artifact": path, "seconds": s, "version": v} or
{"unavailable": reason} (the peer cannot do it: its reason goes in the tables).
"""
import importlib
import json
import os
import sys
import time
import traceback


def main():
    peer_name, name, precision, models_dir, out_dir = sys.argv[1:6]
    try:
        peer = importlib.import_module(f"peers.{peer_name}")
    except Exception as e:  # not installed: bench/setup was not run, or it failed for this peer
        print(json.dumps({"unavailable": f"cannot import: {type(e).__name__}: {e}"}))
        return
    import models
    from peers import Job, Unavailable
    with open(os.path.join(models_dir, f"{name}.json")) as f:
        spec = json.load(f)
    job = Job(name=name, precision=precision, onnx=os.path.join(models_dir, f"{name}.onnx"),
              torch_module=lambda: models.torch_module(name, models_dir),
              calibration=models.calibration(models_dir, spec), out_dir=out_dir,
              int8_scheme=models.int8_scheme(name))
    os.makedirs(out_dir, exist_ok=True)
    start = time.time()
    try:
        artifact = peer.convert(job)
    except Unavailable as e:
        print(json.dumps({"unavailable": str(e)}))
        return
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"unavailable": f"conversion failed: {type(e).__name__}: {str(e)[:300]}"}))
        return
    print(json.dumps({"artifact": artifact, "seconds": time.time() - start, "version": peer.version()}))


if __name__ == "__main__":
    main()
