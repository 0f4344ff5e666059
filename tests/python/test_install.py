"""The package from an installed prefix (cmake --install into a temporary prefix, run from
another directory with nothing pointing at the build: it must load the prefix's libtacl, and
run two ranks under the prefix's `tacl run`), from an offline `pip install`, and the library
search order: TACL_LIBRARY, the copy beside the package, the system's (the loader's path)."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from launch import BUILD, SOURCE

PROBE = ("import tacl, numpy as np\n"
         "c = tacl.init()\n"
         "a = np.full(4, c.rank + 1.0)\n"
         "c.all_reduce(a)\n"
         "assert list(a) == [c.size * (c.size + 1) / 2] * 4, a\n"
         "import os, sys\n"
         "line = 'path %s file %s rank %d of %d\\n' % (tacl.library_path(), tacl.__file__, c.rank, c.size)\n"
         "os.write(sys.stdout.fileno(), line.encode())  # one write: ranks share the pipe\n")


def clean_env(**kw):
    e = {k: v for k, v in os.environ.items()
         if k not in ("TACL_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH") and not k.startswith("TACL_")}
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    e.update(kw)
    return e


def run(cmd, env, cwd, timeout=120):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                       universal_newlines=True, timeout=timeout)
    return p.returncode, p.stdout


@pytest.fixture(scope="module")
def tmp():
    d = tempfile.mkdtemp()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def prefix(tmp):
    if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
        pytest.skip("no build directory at %s to install from" % BUILD)
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    if "TACL_SANITIZE:BOOL=ON" in cache:
        pytest.skip("a sanitizer build's library needs the sanitizer runtime in the interpreter")
    p = os.path.join(tmp, "prefix")
    rc, out = run(["cmake", "--install", BUILD, "--prefix", p], os.environ, tmp)
    assert rc == 0, out
    return p


def test_installed_prefix(prefix, tmp):
    inits = glob.glob(os.path.join(prefix, "lib*", "python3*", "*-packages", "tacl", "__init__.py"))
    assert len(inits) == 1, "package not installed under %s: %s" % (prefix, inits)
    site = os.path.dirname(os.path.dirname(inits[0]))
    elsewhere = os.path.join(tmp, "elsewhere")
    os.makedirs(elsewhere, exist_ok=True)
    rc, out = run([sys.executable, "-c", PROBE], clean_env(PYTHONPATH=site), elsewhere)
    assert rc == 0, out
    path = out.split("path ")[1].split()[0]
    assert os.path.realpath(path).startswith(os.path.realpath(prefix) + os.sep), out
    assert "file %s" % os.path.join(site, "tacl") in out, out
    # two ranks under the prefix's own CLI
    rc, out = run([os.path.join(prefix, "bin", "tacl"), "run", "-n", "2", "--", sys.executable, "-c", PROBE],
                  clean_env(PYTHONPATH=site), elsewhere)
    assert rc == 0 and out.count("rank") == 2 and "of 2" in out, out
    # TACL_LIBRARY comes first
    lib = os.path.join(BUILD, "src", "libtacl.so")
    rc, out = run([sys.executable, "-c", PROBE], clean_env(PYTHONPATH=site, TACL_LIBRARY=lib), elsewhere)
    assert rc == 0 and os.path.realpath(out.split("path ")[1].split()[0]) == os.path.realpath(lib), out


def test_pip_install_offline(tmp):
    src = os.path.join(tmp, "pysrc")
    shutil.copytree(os.path.join(SOURCE, "python"), src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "_paths.py", "lib"))
    target = os.path.join(tmp, "pip")
    rc, out = run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                   "--no-deps", "--disable-pip-version-check", "--target", target, src],
                  clean_env(PIP_NO_INPUT="1"), tmp, timeout=200)
    if rc != 0 and "No module named pip" in out:
        pytest.skip("this interpreter has no pip (Debian: python3-pip)")
    assert rc == 0, out
    lib = os.path.join(BUILD, "src", "libtacl.so")
    rc, out = run([sys.executable, "-c", PROBE], clean_env(PYTHONPATH=target, TACL_LIBRARY=lib), "/")
    assert rc == 0 and os.path.join(target, "tacl") in out, out


def test_search_order_beside_then_system(tmp):
    pkg = os.path.join(tmp, "beside")
    shutil.copytree(os.path.join(SOURCE, "python", "tacl"), os.path.join(pkg, "tacl"),
                    ignore=shutil.ignore_patterns("__pycache__", "_paths.py", "lib"))
    os.makedirs(os.path.join(pkg, "tacl", "lib"))
    real = os.path.realpath(os.path.join(BUILD, "src", "libtacl.so"))
    shutil.copy(real, os.path.join(pkg, "tacl", "lib", "libtacl.so.0"))
    rc, out = run([sys.executable, "-c", PROBE], clean_env(PYTHONPATH=pkg), "/")
    assert rc == 0 and "path %s" % os.path.join(pkg, "tacl", "lib", "libtacl.so.0") in out, out
    # nothing beside the package: the dynamic loader's search path (here LD_LIBRARY_PATH)
    shutil.rmtree(os.path.join(pkg, "tacl", "lib"))
    rc, out = run([sys.executable, "-c", PROBE],
                  clean_env(PYTHONPATH=pkg, LD_LIBRARY_PATH=os.path.dirname(real)), "/")
    assert rc == 0 and os.path.realpath(out.split("path ")[1].split()[0]) == real, out
    # nothing anywhere: Unavailable naming what was tried
    code = "import tacl\ntry:\n    tacl.library_path()\nexcept tacl.Unavailable as e:\n    print('unavailable', e)\n"
    rc, out = run([sys.executable, "-c", code], clean_env(PYTHONPATH=pkg), "/")
    if "unavailable" not in out and "path" not in out:
        assert rc == 0, out
    if os.path.exists("/usr/lib/libtacl.so.0") or os.path.exists("/usr/local/lib/libtacl.so.0"):
        pytest.skip("a system libtacl is installed; the not-found message cannot be checked")
    assert "unavailable" in out and "TACL_LIBRARY" in out and "beside the package" in out, out
