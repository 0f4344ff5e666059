"""launch.py - helpers of the Python tests: where the CLI, the build and the package are, and
running N ranks of a script under `tacl run`."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("TACL_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("TACL_BUILD_DIR") or os.path.join(SOURCE, "build")
CLI = os.environ.get("TACL_CLI") or os.path.join(BUILD, "tools", "tacl", "tacl")
PYTHON = sys.executable


def rank_env(extra=None):
    """The environment of ranks: the source tree's package and the build's library unless the
    caller set them."""
    e = dict(os.environ)
    e.setdefault("TACL_LIBRARY", os.path.join(BUILD, "src", "libtacl.so"))
    e.setdefault("PYTHONPATH", os.path.join(SOURCE, "python"))
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    for k, v in (extra or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def run_ranks(n, script, args=(), env=None, timeout=200, run_opts=()):
    """Runs `tacl run -n n -- python ranks/script args` and returns the CompletedProcess."""
    path = script if os.path.isabs(script) else os.path.join(HERE, "ranks", script)
    cmd = [CLI, "run", "-n", str(n)] + list(run_opts) + ["--", PYTHON, path] + [str(a) for a in args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          env=rank_env(env), universal_newlines=True)


def expect_ok(p, n, tag):
    """Every rank printed '<tag> rank R ok' and the job succeeded."""
    out = "rc %d\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout[-6000:], p.stderr[-6000:])
    assert p.returncode == 0, out
    for r in range(n):
        assert ("%s rank %d ok" % (tag, r)) in p.stdout, out
    return p.stdout
