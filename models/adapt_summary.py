#!/usr/bin/python3
"""Prints what `edgeclr adapt --json` reported, in four lines, for the model recipes
(models/photo/build.sh, models/dinov2/build.sh).

usage: /usr/bin/python3 models/adapt_summary.py ADAPT.json
"""
import json
import sys

if len(sys.argv) != 2:
    raise SystemExit(__doc__)
d = json.load(open(sys.argv[1]))
v, s = d["validation"], d["space"]
print(f"accepted: {d['accepted']}: {d['reason']}")
print(f"  {d['train']} train / {d['held_out']} held-out photos, epochs run {d['epochs_run']}, best {d['best_epoch']}, "
      f"{d['seconds']:.1f} s ({d['cache_seconds']:.1f} s feature cache), peak RSS {d['peak_rss_mb']:.0f} MB")
print(f"  validation loss {v['before']['loss']:.4f} -> {v['after']['loss']:.4f}, accuracy "
      f"{v['before']['accuracy']:.3f} -> {v['after']['accuracy']:.3f}; effective rank "
      f"{s['before']['effective_rank']:.1f} -> {s['after']['effective_rank']:.1f}")
