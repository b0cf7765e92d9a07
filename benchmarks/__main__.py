"""``python -m benchmarks NAME [options]``: run the benchmark ``benchmarks/NAME.py:main(argv)``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# Modules in this package that are helpers, not benchmarks.
_NOT_BENCHMARKS = frozenset({"__init__", "__main__", "generate"})


def available() -> list[str]:
    """Benchmark names: the modules of this package that define ``main``."""
    folder = Path(__file__).parent
    return sorted(p.stem for p in folder.glob("*.py") if p.stem not in _NOT_BENCHMARKS)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    names = available()
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m benchmarks NAME [options]   (NAME --help for its options)")
        print("available benchmarks: " + ", ".join(names))
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{name}")
    result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
