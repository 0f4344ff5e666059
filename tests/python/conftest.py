"""conftest.py - lets the tests run by hand as well as under CTest: the source tree's package
and the build's libtacl unless PYTHONPATH / TACL_LIBRARY say otherwise."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import SOURCE, BUILD  # noqa: E402

os.environ.setdefault("TACL_LIBRARY", os.path.join(BUILD, "src", "libtacl.so"))
os.environ.setdefault("PYTHONPATH", os.path.join(SOURCE, "python"))
try:
    import tacl  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(SOURCE, "python"))
