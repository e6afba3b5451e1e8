"""The parent side of the fuzz suite: runs calls in child processes and classifies them.

Each call gets one verdict:
  ok        returned, and every invariant held (inputs untouched, output shapes, references);
  rejected  raised an accepted exception (see worker.ACCEPTED) whose message names the op;
  BAD       crash (the child died: signal or sanitizer exit), hang, another exception type, a
            message without the op's name, an invalid call accepted, or a broken invariant.
A crashing call is re-run alone in a fresh child to tell a real crash from heap damage left by an
earlier call ("confirmed" in the report).
"""
from __future__ import annotations

import json
import re
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALL_TIMEOUT_S = float(os.environ.get("CORENN_FUZZ_CALL_TIMEOUT", "60"))


def keys_for(n_calls, seed, ops):
    """The n_calls case keys of one run: ops round-robin, a distinct seed per call."""
    return [f"{ops[i % len(ops)]}:{seed * 1_000_003 + i}" for i in range(n_calls)]


def repro_line(key):
    return f"(cd tests && python -m fuzz.worker --repro '{key}')"


class Worker:
    def __init__(self, env=None):
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = TESTS_DIR + os.pathsep + self.env.get("PYTHONPATH", "")
        self.proc = None
        self.starts = 0

    def start(self):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "fuzz.worker"], cwd=TESTS_DIR,
                                     env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, bufsize=0)
        self.buf = b""
        self.starts += 1

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:  # the child is gone: its end of the pipe is closed
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.err.close()
        self.proc = None

    def _stderr_tail(self, n=200_000):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")[-n:]

    def _readline(self, timeout):
        """One protocol line, or None on EOF / timeout ('timeout' is returned then)."""
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                nl = self.buf.find(b"\n")
                if nl >= 0:
                    line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                    if line.startswith(b"@@"):
                        return line.decode("utf-8", "replace")
                    continue  # stray output from a kernel: not ours
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return "timeout"
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                self.buf += chunk
        finally:
            sel.close()

    def run(self, keys):
        """Results for ``keys`` (a list of dicts, one per key, in order)."""
        results, i = [], 0
        while i < len(keys):
            if self.proc is None:
                self.start()
            batch = keys[i:i + 256]
            self.proc.stdin.write((json.dumps(batch) + "\n").encode())
            self.proc.stdin.flush()
            got = 0
            while True:
                line = self._readline(CALL_TIMEOUT_S)
                if line == "@@DONE":
                    break
                if line is not None and line.startswith("@@FUZZ "):
                    results.append(json.loads(line[7:]))
                    got += 1
                    continue
                key = batch[got]
                if line == "timeout":
                    self.proc.kill()
                    self.proc.wait()
                    results.append({"key": key, "op": key.split(":")[0], "status": "hang",
                                    "bad": [f"hang: no result after {CALL_TIMEOUT_S:.0f} s"]})
                else:
                    rc = self.proc.wait()
                    results.append(crash_result(key, rc, self._stderr_tail()))
                self.stop()
                got += 1
                break
            i += got
        return results


def crash_result(key, rc, stderr):
    sig = -rc if rc < 0 else None
    name = signal.Signals(sig).name if sig else f"exit {rc}"
    san = ""
    hits = [j for j in (stderr.find(m) for m in ("ERROR: AddressSanitizer", "runtime error:",
                                                   "ERROR: LeakSanitizer")) if j >= 0]
    if hits:  # the first report: the line that holds it, with the source location (UBSan)
        j = min(hits)
        start = stderr.rfind("\n", 0, j) + 1
        san = stderr[start:start + 400].split("\n")[0]
        frames = [ln.strip() for ln in stderr[start:].splitlines()
                  if ln.strip().startswith("#") and "/csrc/" in ln][:3]
        if frames:
            san += " | " + " | ".join(f.split(" in ", 1)[-1][:160] for f in frames)
    return {"key": key, "op": key.split(":")[0], "status": "crash", "rc": rc,
            "bad": [f"crash: {name}" + (f" [{_san_kind(san)}]" if san else "")],
            "sanitizer": san, "stderr_tail": stderr[-3000:]}


def _san_kind(line):
    if "AddressSanitizer" in line:
        return "ASan " + line.split("AddressSanitizer:")[1].split()[0]
    if "runtime error:" in line:
        return "UBSan " + " ".join(line.split("runtime error:")[1].split()[:4])
    return line[:40]


def confirm_crashes(results, env=None):
    """Re-run each crashing key alone; annotate with whether it crashes in isolation."""
    for res in results:
        if res.get("status") != "crash":
            continue
        w = Worker(env)
        again = w.run([res["key"]])[0]
        w.stop()
        res["confirmed"] = again.get("status") == "crash"
        if not res["confirmed"]:
            res["alone"] = {k: again.get(k) for k in ("status", "type", "msg", "bad")}
        else:
            res.update({k: again[k] for k in ("bad", "sanitizer", "stderr_tail") if k in again})
        res.update(describe(res["key"], env))


def describe(key, env=None):
    """The args/mutations of ``key`` from a fresh child that builds the call without making it
    (a crashing child dies before it can report them)."""
    w = Worker(env)
    try:
        out = subprocess.run([sys.executable, "-m", "fuzz.worker", "--describe", key],
                             cwd=TESTS_DIR, env=w.env, capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout)
    except Exception as exc:  # noqa: BLE001
        return {"args": f"? ({exc})"}


def verdict(res):
    if res.get("bad"):
        return "bad"
    return "ok" if res.get("status") == "ok" else "rejected"


def summarize(results, max_examples=2):
    """(counts, categories): categories maps 'category | op' -> {count, examples}."""
    counts = {"calls": len(results), "ok": 0, "rejected": 0, "bad": 0}
    cats = OrderedDict()
    for res in results:
        v = verdict(res)
        counts[v] += 1
        if v != "bad":
            continue
        first = res["bad"][0]
        label = first.split(":")[0]
        detail = re.sub(r"\b\d+\b", "N", re.sub(r" \((element|got) .*", "", first))[:110]
        k = f"{detail} | {res.get('op')}"
        c = cats.setdefault(k, {"category": label, "count": 0, "examples": []})
        c["count"] += 1
        if len(c["examples"]) < max_examples:
            c["examples"].append(res)
    return counts, cats


def format_report(results, elapsed=None, max_cats=200):
    counts, cats = summarize(results)
    lines = [f"corenn fuzz: {counts['calls']} calls, {counts['ok']} ok, {counts['rejected']} "
             f"rejected, {counts['bad']} BAD" + (f" in {elapsed:.1f} s" if elapsed else "")]
    by_cat = {}
    for c in cats.values():
        by_cat[c["category"]] = by_cat.get(c["category"], 0) + c["count"]
    if by_cat:
        lines.append("BAD by category: " + ", ".join(f"{k}={v}" for k, v in sorted(by_cat.items())))
    for k, c in sorted(cats.items(), key=lambda kv: (kv[1]["category"], -kv[1]["count"]))[:max_cats]:
        ex = c["examples"][0]
        lines.append(f"- [{c['count']}x] {k}")
        lines.append(f"    call: {ex.get('op')}({ex.get('args', '?')})  mutations={ex.get('mutations')}")
        if ex.get("type"):
            lines.append(f"    raised {ex['type']}: {ex.get('msg', '')[:200]}")
        if ex.get("status") == "crash":
            lines.append(f"    rc={ex.get('rc')} confirmed_alone={ex.get('confirmed')} "
                         f"{ex.get('sanitizer', '')[:600]}")
            if ex.get("alone"):
                lines.append(f"    alone: {ex['alone']}")
        lines.append(f"    repro: {repro_line(ex['key'])}")
    return "\n".join(lines)
