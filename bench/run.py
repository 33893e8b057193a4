"""edgeclr against the runtimes an app developer would pick instead, in one run on one machine.

Started by bench/run (which picks the Python: build/bench-venv's after bench/setup).

Every runtime gets the same models (bench/models.py: one ONNX file each; the runtimes that
convert from PyTorch get the same function as a module), the same calibration images for
int8, and the same input tensor. Per model, precision, thread count and runtime, one
process (bench/spawn.py) loads the model, runs the input once (its output goes to the
cosine against PyTorch), then times runs of the model alone for about --seconds
(edgeclr: edgeclr_encode_tensor, the backbone and head without preprocessing; the
peers: their own run call). Rounds are interleaved: every configuration once per round,
medians over rounds, so the machine's drift hits every runtime alike. int8 is static for the
CNNs and dynamic for the transformers (bench/models.py's TRANSFORMERS: int8 weights,
activations quantized when the model runs, each runtime's own recipe for transformers,
bench/peers/*.py); their tables add each runtime's int8 output against its own fp32 output
and their targets table the ones of issue 26. A runtime that cannot convert or run a model
(Debian 12's edgeclr refuses the transformers: they need XNNPACK 2024) gets its reason in
the table instead of figures.

The figures, per configuration: p50 and p90 latency; process start to first result (exec,
interpreter and imports included: a Python peer pays its interpreter there); load + first
result inside the process (open, create, first run: the fair comparison of load paths);
peak RSS of the process; cosine of the output against PyTorch's; achieved MAC/s as a
fraction of the machine's peak (the best of XNNPACK's fp32 and int8 GEMMs, measured in
the same run on bench/models.py's peak model).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import models  # noqa: E402
import spawn  # noqa: E402

PEERS = ("onnxruntime", "litert", "executorch", "ncnn", "mnn")
PEER_NAMES = {"onnxruntime": "ONNX Runtime", "litert": "LiteRT", "executorch": "ExecuTorch", "ncnn": "ncnn",
              "mnn": "MNN"}
BUILDS = {  # runtime key -> (label, build folder, runs inside the trixie root)
    "edgeclr-d12": ("edgeclr (Debian 12)", "build", False),
    "edgeclr-d13": ("edgeclr (Debian 13)", "build/trixie/build", True),
}
BEGIN, END = "<!-- bench/run: begin -->", "<!-- bench/run: end -->"


def markers(section):
    """The comments around the text a run writes into --doc: BEGIN and END, or, for a named
    --section, "<!-- bench/run SECTION: begin -->" and its end."""
    return (BEGIN, END) if not section else (f"<!-- bench/run {section}: begin -->", f"<!-- bench/run {section}: end -->")
# How each runtime makes the transformers' int8 (bench/models.py int8_scheme "dynamic"); the
# peers' docstrings have the details. Printed in the run's header when a transformer is measured.
DYNAMIC_RECIPES = (
    "edgeclr: `convert --int8` (every fully connected layer: int8 weights, symmetric per channel, its fp32 input "
    "quantized per token when it runs on XNNPACK 2024's qdint8 kernels; the patch embedding convolution (it reads "
    "the image) fp32 too, calibration on the same 200 images for the bias correction; LayerNorm, softmax, GELU, attention products and residual adds fp32; "
    "the converter's default fidelity search, target 0.99, as for the CNNs). ONNX Runtime: `quantize_dynamic`, "
    "per_channel=True (MatMul weights per channel, the Conv's per tensor), QInt8 weights, QUInt8 activations "
    "quantized per tensor when the model runs (U8S8, the form its x86 GEMM runs on VNNI; no reduce_range, which it "
    "advises only for x86 without VNNI). LiteRT: dynamic-range quantization through litert-torch's PT2E "
    "quantizer (`get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)`): int8 weights, float "
    "activations quantized inside each op. ExecuTorch: `XNNPACKQuantizer` with "
    "`get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)`: linear and conv layers int8 "
    "weights, inputs quantized per token in XNNPACK. MNN: `MNNConvert --weightQuantBits 8` run in memory mode low (weights kept "
    "int8, inputs quantized when the layer runs). ncnn: none (its int8 tools are not on PyPI).")
# Published: ncnn's benchmark/README.md (github.com/Tencent/ncnn, commit b5997bc8),
# "Raspberry Pi 4 Model B Broadcom BCM2711B0, Cortex-A72 (ARMv8) (1.8GHz x 4)", benchncnn
# avg ms, fp32: {model: (1 thread, 4 threads)}. No Raspberry Pi 5 figures are published there.
NCNN_PI4_FP32 = {"resnet18": (191.10, 123.12), "resnet50": (534.11, 262.83), "mobilenet_v2": (93.48, 61.88)}


def log(message):
    print(message, file=sys.stderr, flush=True)


class Build:
    """One edgeclr build: its CLI for conversions, its runner for timings."""

    def __init__(self, key, folder=None):
        self.key = key
        self.label, default_folder, self.in_root = BUILDS[key]
        if folder:  # another build than the default one (the smoke test's): named by its folder
            self.label = f"edgeclr ({os.path.relpath(os.path.abspath(folder), REPO)})"
        folder = folder or default_folder
        self.cli = os.path.join(REPO, folder, "tools/edgeclr")  # folder may be absolute
        self.runner = os.path.join(REPO, folder, "bench/edgeclr-bench-runner")
        self.agent = None

    def missing(self):
        for path in (self.cli, self.runner):
            if not os.path.exists(path):
                hint = "make build-trixie" if self.in_root else "make build"
                return f"{os.path.relpath(path, REPO)} is missing (run {hint})"
        return None

    def run(self, argv, timeout=3600):
        """run_measured(argv), inside the trixie root for the Debian 13 build."""
        if not self.in_root:
            return spawn.run_measured(argv, timeout)
        if self.agent is None:
            self.agent = subprocess.Popen([os.path.join(REPO, "scripts/trixie-root"), "/usr/bin/python3",
                                           os.path.join(HERE, "spawn.py"), "--agent"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.agent.stdin.write(json.dumps({"argv": argv, "timeout": timeout}) + "\n")
        self.agent.stdin.flush()
        line = self.agent.stdout.readline()
        return json.loads(line) if line else {"error": "the trixie-root agent ended"}

    def close(self):
        if self.agent is not None:
            self.agent.stdin.close()
            self.agent.wait()

    def version(self):
        r = subprocess.run([os.path.join(REPO, "scripts/trixie-root"), self.cli, "--version"] if self.in_root
                           else [self.cli, "--version"], capture_output=True, text=True)
        return r.stdout.strip()

    def convert(self, name, precision, models_dir, out_dir):
        """The .eclr for (name, precision), converted by this build; cached until the build
        or the ONNX file is newer. Returns {"artifact"} or {"unavailable"}."""
        os.makedirs(out_dir, exist_ok=True)
        onnx = os.path.join(models_dir, f"{name}.onnx")
        path = os.path.join(out_dir, f"{name}-{precision}.eclr")
        newest_input = max(os.path.getmtime(self.cli), os.path.getmtime(onnx))
        if not os.path.exists(path) or os.path.getmtime(path) < newest_input:
            argv = [self.cli, "convert", onnx, "-o", path]
            if precision == "int8":
                spec = json.load(open(os.path.join(models_dir, f"{name}.json")))
                images = os.path.join(models_dir, spec["images"])
                holdout = len(os.listdir(images)) - models.CALIBRATION
                argv += ["--int8", "--calibration", images, "--calibration-count", str(models.CALIBRATION),
                         "--holdout", str(holdout)]
                if name == "peak":
                    argv += ["--target-cosine", "0"]  # every layer int8: the kernels' speed
            log(f"  {self.label}: converting {name} {precision}")
            result = self.run(argv + (["--json"] if precision == "int8" else []))
            if "error" in result:
                return {"unavailable": f"convert failed: {result['error']}"}
            with open(path + ".convert.json", "w") as f:
                json.dump(result, f)
        refused = self.refusal(path)
        return {"unavailable": refused} if refused else {"artifact": path}

    def refusal(self, path):
        """Why this build's encoder refuses the model, or None: a model whose operators need a
        newer XNNPACK than the build links (transformers on Debian 12's 2022) converts, and
        `edgeclr inspect` says so (needs_xnnpack), but creating its encoder fails."""
        record = path + ".inspect.json"
        if not os.path.exists(record) or os.path.getmtime(record) < os.path.getmtime(path):
            info = self.run([self.cli, "inspect", path, "--json"])
            if "error" in info:
                return None  # the measurement will say what is wrong
            with open(record, "w") as f:
                json.dump(info, f)
        with open(record) as f:
            info = json.load(f)
        try:
            needs, linked = int(info["needs_xnnpack"]), int(info["xnnpack"].split("(")[1].split()[0])
        except (KeyError, IndexError, ValueError):
            return None
        if needs <= linked:
            return None
        return (f"refused: the model needs XNNPACK {needs} or later (`edgeclr inspect`), this build links "
                f"XNNPACK {info['xnnpack']}")

    def measure(self, artifact, inputs, output, threads, seconds):
        return self.run([self.runner, artifact, inputs["f32"], output, str(threads), str(seconds), "{spawn_ns}"])


class Peer:
    """A runtime of bench/peers, converted and measured through bench/convert_peer.py and
    bench/measure.py in the benchmark's Python."""

    def __init__(self, key):
        self.key, self.label = key, PEER_NAMES[key]

    def convert(self, name, precision, models_dir, out_dir, reconvert):
        """The runtime's file for (name, precision); cached in out_dir until the ONNX file or
        the code that converts it (the peer's module, bench/peers/__init__.py,
        bench/convert_peer.py, bench/models.py: the PyTorch modules) is newer."""
        record = os.path.join(out_dir, "result.json")
        onnx = os.path.join(models_dir, f"{name}.onnx")
        sources = [onnx] + [os.path.join(HERE, f) for f in (f"peers/{self.key}.py", "peers/__init__.py",
                                                            "convert_peer.py", "models.py")]
        newest_input = max(os.path.getmtime(f) for f in sources)
        if (not reconvert and os.path.exists(record) and os.path.getmtime(record) >= newest_input):
            result = json.load(open(record))
            if "unavailable" in result or os.path.exists(result["artifact"]):
                return result
        log(f"  {self.label}: converting {name} {precision}")
        os.makedirs(out_dir, exist_ok=True)
        try:
            r = subprocess.run([sys.executable, os.path.join(HERE, "convert_peer.py"), self.key, name, precision,
                                models_dir, out_dir], capture_output=True, text=True, cwd=HERE, timeout=3600)
            lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
            if r.returncode != 0 or not lines:
                tail = " | ".join(r.stderr.strip().splitlines()[-2:])
                result = {"unavailable": f"converter crashed (exit {r.returncode}): {tail[-300:]}"}
            else:
                result = json.loads(lines[-1])
        except subprocess.TimeoutExpired:  # a reason in the table, not the end of the run
            result = {"unavailable": "the conversion did not end within 3600 s"}
        with open(record, "w") as f:
            json.dump(result, f)
        return result

    def measure(self, artifact, inputs, output, threads, seconds):
        return spawn.run_measured([sys.executable, os.path.join(HERE, "measure.py"), self.key, artifact,
                                   inputs["npy"], output + ".npy", str(threads), str(seconds), "{spawn_ns}"])


def outside_packages():
    """The Python packages installed outside the venv (Debian's and pyenv's): MNN's tools
    would pip-install into the first pip on PATH (bench/peers/mnn.py), so the run checks
    that these did not change."""
    import glob
    folders = ["/usr/lib/python3/dist-packages", *glob.glob("/root/.pyenv/versions/*/lib/python3*/site-packages"),
               *glob.glob(os.path.expanduser("~/.local/lib/python3*/site-packages"))]
    return {f: sorted(os.listdir(f)) for f in folders if os.path.isdir(f)}


def cpu():
    model, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    shown = [f for f in ("sse4_2", "fma", "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
             if f in flags]
    return model, shown


def write_inputs(name, spec, models_dir, folder):
    """The timed input as float32 NCHW .npy (peers) and raw NHWC .f32 (edgeclr)."""
    os.makedirs(folder, exist_ok=True)
    x = models.timed_input(models_dir, spec)
    paths = {"npy": os.path.join(folder, f"{name}.input.npy"), "f32": os.path.join(folder, f"{name}.input.f32")}
    np.save(paths["npy"], x)
    x.transpose(0, 2, 3, 1).astype("<f4").tofile(paths["f32"])
    return paths


def read_output(path):
    return np.load(path) if path.endswith(".npy") else np.fromfile(path, "<f4")


def cosine(a, b):
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.shape != b.shape:
        return float("nan")
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def cell_text(text):
    """`text` as one Markdown table cell: a failure's stderr lines are joined with " | " (bench/spawn.py)."""
    return text.replace("|", "\\|")


def shown(value, spec, suffix=""):
    """A table cell: the value formatted, or "-" when there is none (not measured)."""
    return "-" if value is None else f"{value:{spec}}{suffix}"


def median_of(samples, key):
    values = [s[key] for s in samples if key in s]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(models.ALL),
                        help="comma-separated: " + ", ".join(models.ALL) + f" (and {models.SMOKE}, for the smoke test)")
    parser.add_argument("--runtimes", default=",".join(list(BUILDS) + list(PEERS)),
                        help="comma-separated: " + ", ".join(list(BUILDS) + list(PEERS)))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5, help="timing per measurement (10 to 300 runs)")
    parser.add_argument("--work", default=os.path.join(REPO, "build/bench"), help="models, conversions, outputs")
    parser.add_argument("--doc", default=os.path.join(REPO, "docs/benchmarks.md"),
                        help="file whose bench/run section is replaced ('-': print only)")
    parser.add_argument("--section", help="write between <!-- bench/run SECTION: begin/end --> in --doc instead "
                                          "of the main section (e.g. transformers)")
    parser.add_argument("--reconvert", action="store_true", help="convert the peers' models again")
    parser.add_argument("--no-peak", action="store_true", help="skip the machine peak (no MAC/s column)")
    parser.add_argument("--edgeclr-build", help="the Debian 12 build's folder (default: build)")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    runtime_keys = [r for r in args.runtimes.split(",") if r]
    threads_list = [int(t) for t in args.threads.split(",")]
    for bad in [n for n in names if n not in models.ALL + (models.SMOKE,)] + [r for r in runtime_keys if r not in BUILDS and r not in PEERS]:
        parser.error(f"unknown model or runtime {bad}")
    started = datetime.datetime.now(datetime.timezone.utc)
    packages_before = outside_packages()
    models_dir = os.path.join(args.work, "models")
    specs = models.make(models_dir, names, log)
    extra = [] if args.no_peak else ["peak"]
    if extra:
        models.make_peak(models_dir)

    runtimes, skipped = {}, {}
    for key in runtime_keys:
        if key in BUILDS:
            build = Build(key, args.edgeclr_build if key == "edgeclr-d12" else None)
            why = build.missing()
            (skipped.__setitem__(key, why) if why else runtimes.__setitem__(key, build))
        else:
            runtimes[key] = Peer(key)
    builds = [r for r in runtimes.values() if isinstance(r, Build)]
    if not builds:
        sys.exit(f"bench/run: no edgeclr build to measure: {skipped}")

    log("converting (cached in " + args.work + ")")
    artifacts, versions = {}, {}
    for key, runtime in runtimes.items():
        for name in names + (extra if isinstance(runtime, Build) else []):
            for precision in models.precisions(name):
                if isinstance(runtime, Build):
                    result = runtime.convert(name, precision, models_dir, os.path.join(args.work, key))
                else:
                    result = runtime.convert(name, precision, models_dir,
                                             os.path.join(args.work, "peers", key, f"{name}-{precision}"),
                                             args.reconvert)
                    if "version" in result:
                        versions[key] = result["version"]
                artifacts[(key, name, precision)] = result
    for build in builds:
        versions[build.key] = build.version()

    inputs = {name: write_inputs(name, specs[name] if name in specs else json.load(
        open(os.path.join(models_dir, "peak.json"))), models_dir, os.path.join(args.work, "inputs"))
        for name in names + extra}
    outputs_dir = os.path.join(args.work, "outputs")
    os.makedirs(outputs_dir, exist_ok=True)
    configs = [(name, precision, threads) for name in names + extra for precision in models.precisions(name)
               for threads in threads_list]
    samples = {}  # (runtime, name, precision, threads) -> [result per round]
    for r in range(args.rounds):
        log(f"round {r + 1} of {args.rounds}")
        for name, precision, threads in configs:
            for key, runtime in runtimes.items():
                artifact = artifacts.get((key, name, precision), {})
                if "artifact" not in artifact:
                    continue
                output = os.path.join(outputs_dir, f"{key}-{name}-{precision}-{threads}")
                result = runtime.measure(artifact["artifact"], inputs[name], output, threads, args.seconds)
                if "error" not in result and "p50_ms" not in result:
                    result = {"error": f"no timings: {str(result)[-300:]}"}
                if "error" not in result and r == 0:
                    reference = (np.load(os.path.join(models_dir, f"{name}.reference.npy"))
                                 if name != "peak" else None)
                    suffix = ".npy" if isinstance(runtime, Peer) else ""
                    out = read_output(output + suffix)
                    result["cosine"] = cosine(out, reference) if reference is not None else None
                    own_fp32 = os.path.join(outputs_dir, f"{key}-{name}-fp32-{threads}") + suffix
                    if precision == "int8" and os.path.exists(own_fp32) and any(
                            "error" not in s for s in samples.get((key, name, "fp32", threads), [])):
                        result["cosine_own_fp32"] = cosine(out, read_output(own_fp32))
                samples.setdefault((key, name, precision, threads), []).append(result)
    for build in builds:
        build.close()

    changed = [f for f, names_after in outside_packages().items() if packages_before.get(f) != names_after]
    report = Report(names, threads_list, runtimes, skipped, artifacts, samples, versions, models_dir, args)
    report.outside_changed = changed
    text = report.markdown(started)
    print(text)
    if args.doc != "-":
        replace_section(args.doc, text, *markers(args.section))
        log(f"wrote {args.doc}")
    failures = [(k, s["error"]) for k, v in samples.items() for s in v if "error" in s]
    for k, e in failures[:20]:
        log(f"measurement failed: {k}: {e}")
    return 0


class Report:
    """The Markdown tables of one run."""

    def __init__(self, names, threads_list, runtimes, skipped, artifacts, samples, versions, models_dir, args):
        self.names, self.threads_list, self.runtimes = names, threads_list, runtimes
        self.skipped, self.artifacts, self.samples, self.versions = skipped, artifacts, samples, versions
        self.models_dir, self.args = models_dir, args
        self.outside_changed = []
        self.macs = {n: models.macs(os.path.join(models_dir, f"{n}.onnx"))
                     for n in names + ([] if args.no_peak else ["peak"])}
        self.peak = {}  # (threads, precision) -> best GMAC/s of the peak model over the builds
        for t in ([] if args.no_peak else threads_list):
            for prec in ("fp32", "int8"):
                rates = [self.macs["peak"] / (p * 1e6) for key in runtimes if key in BUILDS
                         if (p := self.p50(key, "peak", prec, t))]
                self.peak[(t, prec)] = max(rates) if rates else None

    def p50(self, key, name, precision, threads):
        return median_of(self.samples.get((key, name, precision, threads), []), "p50_ms")

    def cell(self, key, name, precision, threads, field):
        return median_of(self.samples.get((key, name, precision, threads), []), field)

    def row(self, key, name, precision):
        label = self.runtimes[key].label
        dynamic = models.int8_scheme(name) == "dynamic"
        blanks = len(self.threads_list) + 4 + dynamic  # cells after a row's one-cell reason
        artifact = self.artifacts.get((key, name, precision), {})
        if "artifact" not in artifact:
            reason = cell_text(artifact.get('unavailable', '?'))
            return f"| {label} | {precision} | unavailable: {reason} |" + " |" * blanks
        t0 = self.threads_list[0]
        rounds = self.samples.get((key, name, precision, t0), [])
        errors = [s["error"] for s in rounds if "error" in s]
        if errors and len(errors) == len(rounds):
            return f"| {label} | {precision} | failed: {cell_text(errors[0][:200])} |" + " |" * blanks
        cells = []
        for t in self.threads_list:
            p50, p90 = self.cell(key, name, precision, t, "p50_ms"), self.cell(key, name, precision, t, "p90_ms")
            cells.append(f"{p50:.3f} / {p90:.3f}" if p50 is not None else "-")
        first = rounds[0] if rounds and "cosine" in rounds[0] else {}
        cos = first.get("cosine")
        p50 = self.p50(key, name, precision, t0)
        peak = self.peak.get((t0, precision))
        fraction = self.macs[name] / (p50 * 1e6) / peak if p50 and peak else None
        extra = [shown(self.cell(key, name, precision, t0, field), ".1f")
                 for field in ("load_first_ms", "spawn_to_first_ms", "peak_rss_mb")]
        extra.append(shown(cos, ".5f"))
        if dynamic:
            extra.append(shown(first.get("cosine_own_fp32"), ".5f"))
        extra.append(shown(None if fraction is None else 100 * fraction, ".0f", "%"))
        return f"| {label} | {precision} | " + " | ".join(cells + extra) + " |"

    def table(self, name):
        t0 = self.threads_list[0]
        dynamic = models.int8_scheme(name) == "dynamic"
        head = " | ".join(f"p50 / p90 ms, {t} thread{'s' if t > 1 else ''}" for t in self.threads_list)
        own = f"int8 vs its own fp32 (cosine, {t0} thread) | " if dynamic else ""
        lines = [f"#### {name} ({self.macs[name] / 1e6:.3g} MMAC)", "",
                 f"| runtime | precision | {head} | load + first ms | process start to first ms | peak RSS MB | "
                 f"cosine to PyTorch | {own}MAC/s of peak ({t0} thread) |",
                 "|---|---|" + "---|" * (len(self.threads_list) + 5 + dynamic)]
        for precision in models.precisions(name):
            for key in self.runtimes:
                lines.append(self.row(key, name, precision))
        notes = [self.fidelity_note(name)] if dynamic else []
        notes += [models.NOTES[name]] if name in models.NOTES else []
        reference = self.reference(name)
        if reference != "PyTorch":
            notes.append(f"Cosine: against {reference}, not PyTorch.")
        return "\n".join(lines + (["", " ".join(notes)] if notes else []))

    def reference(self, name):
        """What made the model's reference output (bench/models.py: PyTorch, or ONNX Runtime
        where onnx2torch cannot translate the file)."""
        path = os.path.join(self.models_dir, f"{name}.json")
        return json.load(open(path)).get("reference", "PyTorch") if os.path.exists(path) else "PyTorch"

    def best(self, keys, name, precision, field, threads):
        values = [(v, k) for k in keys if (v := self.cell(k, name, precision, threads, field)) is not None]
        return min(values) if values else (None, None)

    def converter_report(self, key, name):
        """The --json report of edgeclr's int8 conversion of `name` by the build `key` (bench/run
        keeps it beside the .eclr), or None."""
        artifact = self.artifacts.get((key, name, "int8"), {}).get("artifact")
        path = artifact + ".convert.json" if artifact else None
        if not path or not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    def fidelity_note(self, name):
        """Under a transformer's table: what edgeclr's converter measured on the held-out images
        (more than the one timed photo) and what its fp32 search kept."""
        notes = []
        for key in [k for k in self.runtimes if k in BUILDS]:
            report = self.converter_report(key, name)
            if report is None or "mean_cosine" not in report:
                continue
            kept = report.get("kept_by_search") or []
            notes.append(f"{self.runtimes[key].label} int8 on the {report.get('holdout_images', '?')} held-out images "
                         f"(the converter's report): cosine to its fp32 mean {report['mean_cosine']:.5f}, min "
                         f"{report['min_cosine']:.5f}; {100 * report.get('int8_mac_share', 0):.1f}% of the MACs in "
                         f"int8; kept in fp32 by its search (target {report.get('target_cosine', '?')}): "
                         f"{', '.join(str(k) for k in kept) if kept else 'none'}.")
        return " ".join(notes) if notes else "edgeclr int8: no converter report."

    def targets(self):
        """Per model: edgeclr's best against the fastest peer, as ratios (> 1: edgeclr slower)."""
        t0 = self.threads_list[0]
        ours = [k for k in self.runtimes if k in BUILDS]
        peers = [k for k in self.runtimes if k not in BUILDS]
        lines = [f"| model | int8: edgeclr / fastest peer (target <= 1) | fp32: edgeclr / fastest peer (target "
                 f"<= 1.3) | load + first: edgeclr / best peer (target < 1) | peak RSS: edgeclr / lowest peer "
                 f"(target < 1) |", "|---|---|---|---|---|"]
        for name in [n for n in self.names if models.int8_scheme(n) == "static"]:
            cells = []
            for precision, field in (("int8", "p50_ms"), ("fp32", "p50_ms"), ("int8", "load_first_ms"),
                                     ("int8", "peak_rss_mb")):
                mine, mk = self.best(ours, name, precision, field, t0)
                theirs, tk = self.best(peers, name, precision, field, t0)
                if field != "p50_ms":  # load and memory: any precision counts, the best of each side
                    other = "fp32" if precision == "int8" else "int8"
                    mine, mk = min([x for x in (self.best(ours, name, precision, field, t0),
                                                self.best(ours, name, other, field, t0)) if x[0] is not None],
                                   default=(None, None))
                    theirs, tk = min([x for x in (self.best(peers, name, precision, field, t0),
                                                  self.best(peers, name, other, field, t0)) if x[0] is not None],
                                     default=(None, None))
                if mine is None or theirs is None:
                    cells.append("-")
                else:
                    cells.append(f"**{mine / theirs:.2f}** ({self.runtimes[mk].label} {mine:.3g} vs "
                                 f"{self.runtimes[tk].label} {theirs:.3g})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def transformer_targets(self):
        """Per transformer and thread count, issue 26's targets as ratios: edgeclr's int8 against
        the fastest peer's int8 (<= 1) and against edgeclr's own fp32 (a speed-up >= 2.5),
        edgeclr's fp32 against the fastest peer's fp32 (<= 1.1), edgeclr's int8 load + first
        and peak RSS against the lowest of any peer in either precision (< 1), and the
        fidelity edgeclr's converter measured on the held-out images (mean >= 0.999,
        min >= 0.995)."""
        ours = [k for k in self.runtimes if k in BUILDS]
        peers = [k for k in self.runtimes if k not in BUILDS]
        label = lambda k: self.runtimes[k].label  # noqa: E731
        lines = ["| model | threads | int8: edgeclr / fastest peer's int8 (target <= 1) | int8 speed-up: edgeclr fp32 / "
                 "edgeclr int8 (target >= 2.5) | fp32: edgeclr / fastest peer (target <= 1.1) | load + first: edgeclr "
                 "int8 / best peer (target < 1) | peak RSS: edgeclr int8 / lowest peer (target < 1) | int8 vs fp32 on "
                 "the held-out images, mean / min (target >= 0.999 / 0.995) |", "|---|---|---|---|---|---|---|---|"]

        def ratio(mine, theirs):
            if mine[0] is None or theirs[0] is None:
                return "-"
            return f"**{mine[0] / theirs[0]:.2f}** ({label(mine[1])} {mine[0]:.3g} vs {label(theirs[1])} {theirs[0]:.3g})"

        def lowest_peer(name, field, threads):
            found = [x for x in (self.best(peers, name, p, field, threads) for p in ("int8", "fp32")) if x[0] is not None]
            return min(found, default=(None, None))

        for name in [n for n in self.names if models.int8_scheme(n) == "dynamic"]:
            for t in self.threads_list:
                int8 = self.best(ours, name, "int8", "p50_ms", t)
                cells = [ratio(int8, self.best(peers, name, "int8", "p50_ms", t))]
                fp32_of_int8 = self.cell(int8[1], name, "fp32", t, "p50_ms") if int8[1] else None
                cells.append(f"**{fp32_of_int8 / int8[0]:.2f}x** ({label(int8[1])} {fp32_of_int8:.3g} / {int8[0]:.3g})"
                             if fp32_of_int8 else "-")
                cells.append(ratio(self.best(ours, name, "fp32", "p50_ms", t), self.best(peers, name, "fp32", "p50_ms", t)))
                for field in ("load_first_ms", "peak_rss_mb"):
                    cells.append(ratio(self.best(ours, name, "int8", field, t), lowest_peer(name, field, t)))
                fidelity = [r for k in ours if (r := self.converter_report(k, name)) and "mean_cosine" in r]
                cells.append("; ".join(f"**{r['mean_cosine']:.4f} / {r['min_cosine']:.4f}** ({r.get('holdout_images')} "
                                       f"images)" for r in fidelity) or "-")
                lines.append(f"| {name} | {t} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def markdown(self, started):
        model, flags = cpu()
        t0 = self.threads_list[0]
        peak = ", ".join(f"{prec} {t} thread{'s' if t > 1 else ''}: {self.peak[(t, prec)]:.1f} GMAC/s"
                         for t in self.threads_list for prec in ("fp32", "int8") if self.peak.get((t, prec)))
        argv = " ".join(["bench/run"] + sys.argv[1:])
        begin, end = markers(self.args.section)
        heading = "### The latest run" + (f" ({self.args.section})" if self.args.section else "")
        out = [begin, "", heading, "",
               f"Made by `{argv}` on {started:%Y-%m-%d %H:%M} UTC (after `make` and `make build-trixie`, "
               "`bench/setup`).", "",
               f"- CPU: {model}, {os.cpu_count()} cores; flags: {' '.join(flags)}; {platform.platform()}.",
               "- Versions: " + "; ".join(f"{self.runtimes[k].label} {v}"
                                          for k, v in self.versions.items()) + ".",
               f"- Batch 1, {self.args.rounds} interleaved rounds, medians; each measurement times about "
               f"{self.args.seconds} s (10 to 300 runs) after one warm-up run.",
               f"- Machine peak (XNNPACK's GEMMs: bench/models.py's peak model, the best edgeclr build; each row's "
               f"MAC/s is a fraction of its precision's peak): {peak}.",
               "- p50/p90: the model alone (edgeclr: `edgeclr_encode_tensor`, backbone and head, no "
               "preprocessing). Load + first: open, create and the first result inside the process. Process "
               "start to first: from exec (a Python peer's interpreter and imports included). Peak RSS: the "
               f"process's own VmHWM (a Python peer's interpreter and imports included). Cosine: the output against PyTorch's on the same input. Columns after "
               f"the latencies are for {t0} thread.",
               "- int8: static, calibrated on the same 200 real images for every runtime (bench/models.py)."]
        transformers = [n for n in self.names if models.int8_scheme(n) == "dynamic"]
        if transformers and len(transformers) == len(self.names):
            out.pop()  # no CNN in this run
        elif transformers:
            out[-1] = out[-1][:-1] + " for the CNNs."
        if transformers:
            out.append(f"- int8 of the transformers ({', '.join(transformers)}): dynamic, each runtime's recipe for "
                       "transformers: int8 weights per output channel, activations quantized when the model runs "
                       "(bench/peers/*.py say how). " + DYNAMIC_RECIPES + " Each int8 row also gives the cosine of its "
                       "output to the same runtime's fp32 output on the timed photo.")
        out.append("")
        for key, why in self.skipped.items():
            out.append(f"- {BUILDS[key][0]}: not measured: {why}.")
        out.append("- Python packages outside build/bench-venv: " +
                   (f"CHANGED during the run: {', '.join(self.outside_changed)}" if self.outside_changed
                    else "unchanged by the run (checked before and after)."))
        if len(transformers) < len(self.names):
            out += ["", f"#### Targets ({t0} thread)", "", self.targets(), ""]
        if transformers:
            out += ["", "#### Targets of the transformers (issue 26)", "", self.transformer_targets(), "",
                    "Load + first and peak RSS: edgeclr's int8 against the lowest of every peer in either precision "
                    "(ncnn has fp32 only). The held-out figures are the converter's report (`edgeclr convert --int8 "
                    "--json`) on the images it did not calibrate on.", ""]
        for name in self.names:
            out += [self.table(name), ""]
        if len(transformers) < len(self.names):  # ncnn publishes Pi figures of CNNs only
            out += [self.pi_estimate(), ""]
        out.append(end)
        return "\n".join(out)

    def pi_estimate(self):
        """edgeclr on a Raspberry Pi 4, estimated: ncnn's published Pi 4 fp32 figures times
        edgeclr / ncnn measured here (1 thread, fp32)."""
        lines = ["#### Raspberry Pi 4: an estimate, not a measurement", "",
                 "No Pi is here. ncnn publishes Pi 4 figures (its benchmark/README.md, Cortex-A72 at 1.8 GHz, "
                 "benchncnn averages); scaled by edgeclr / ncnn as measured in this run (fp32, 1 thread, the "
                 "faster edgeclr build). The assumption, untested: the two runtimes' ratio on x86 carries to ARM "
                 "(XNNPACK's and ncnn's NEON kernels differ from their AVX ones). No Raspberry Pi 5 figure is "
                 "published there, so none is estimated.", "",
                 "| model | ncnn on Pi 4, 1 / 4 threads (published) | edgeclr / ncnn here | edgeclr on Pi 4, "
                 "1 / 4 threads (estimate) |", "|---|---|---|---|"]
        ours = [k for k in self.runtimes if k in BUILDS]
        for name, (one, four) in NCNN_PI4_FP32.items():
            if name not in self.names or "ncnn" not in self.runtimes:
                continue
            mine, _ = self.best(ours, name, "fp32", "p50_ms", self.threads_list[0])
            theirs = self.cell("ncnn", name, "fp32", self.threads_list[0], "p50_ms")
            if mine is None or theirs is None:
                continue
            ratio = mine / theirs
            lines.append(f"| {name} | {one:.0f} / {four:.0f} ms | {ratio:.2f} | ~{one * ratio:.0f} / "
                         f"~{four * ratio:.0f} ms |")
        return "\n".join(lines)


def replace_section(path, text, begin=BEGIN, end=END):
    """Replaces the text between `begin` and `end` in `path` (appends it when absent)."""
    old = open(path).read() if os.path.exists(path) else ""
    if begin in old and end in old:
        new = old[:old.index(begin)] + text + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
