#!/usr/bin/env python3
"""Fails when a file of src/ or include/ includes a header of a higher layer.

The layers of the design (docs/design.md), lowest first: a file may include headers of
its own layer and of the layers below it, never of one above. Every folder of
src/ and every public header has its layer in the tables below; a folder or a
header missing from them is an error too, so that a new one is placed on
purpose.

Usage: tools/check_layers.py [source-root]   (default: the checkout of this script)
"""

import re
import sys
from pathlib import Path

LAYERS = ["support", "context", "stack", "coroutine", "loop", "request", "io", "capi", "hook"]

# src/<folder>/ -> layer name.
FOLDER_LAYERS = {
    "support": "support",
    "context": "context",
    "stack": "stack",
    "coroutine": "coroutine",
    "loop": "loop",
    "loop_host": "loop",
    "loop_tevent": "loop",
    "loop_libuv": "loop",
    "loop_libevent": "loop",
    "request": "request",
    "io": "io",
    "pool": "io",
    "capi": "capi",
    "tevent_glue": "capi",
    "pcl": "capi",
    "hook": "hook",
}

# Public headers, by their path under include/ (config.h and config.hpp are
# generated into the build tree under the same names).
HEADER_LAYERS = {
    "cosync/config.h": "support",
    "cosync/config.hpp": "support",
    "cosync/export.hpp": "support",
    "cosync/version.hpp": "support",
    "cosync/stack.hpp": "stack",
    "cosync/coroutine.hpp": "coroutine",
    "cosync/loop.hpp": "loop",
    "cosync/loop_tevent.hpp": "loop",
    "cosync/loop_libuv.hpp": "loop",
    "cosync/loop_libevent.hpp": "loop",
    "cosync/loop_io_uring.hpp": "loop",
    "cosync/request.hpp": "request",
    "cosync/sync.hpp": "request",
    "cosync/io.hpp": "io",
    "cosync/pool.hpp": "io",
    # The C++ umbrella: every C++ header, the io layer's included.
    "cosync/cosync.hpp": "io",
    "cosync.h": "capi",
    "cosync/completion.h": "capi",
    "cosync/tevent.h": "capi",
    "cosync/pcl.h": "capi",
    "cosync/pcl_ext.h": "capi",
    "cosync/hook.hpp": "hook",
}

# include/cosync/impl/<name>*.hpp: the
# longest of these prefixes that <name> starts with gives the layer.
INTERNAL_HEADER_PREFIXES = {
    "intrusive_list": "support",
    "probes": "support",
    "context": "context",
    "stack": "stack",
    "coroutine": "coroutine",
    "loop": "loop",
    "request": "request",
    "sync": "request",
    "io": "io",
    "pool": "io",
    "capi": "capi",
}
INTERNAL_HEADER_DIRS = ("cosync/impl/",)

# Known violations, each with the reason it stands and who removes it. Keep
# this empty: an entry is a debt, not a permission.
ALLOWED = set()

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_SUFFIXES = {".h", ".hpp", ".c", ".cpp", ".S", ".inc"}


class LayerError(Exception):
    pass


def public_header_layer(name):
    if name in HEADER_LAYERS:
        return HEADER_LAYERS[name]
    for directory in INTERNAL_HEADER_DIRS:
        if name.startswith(directory):
            base = name[len(directory):]
            matches = [p for p in INTERNAL_HEADER_PREFIXES if base.startswith(p)]
            if matches:
                return INTERNAL_HEADER_PREFIXES[max(matches, key=len)]
    raise LayerError(f"include/{name} has no layer: add it to HEADER_LAYERS or "
                     f"INTERNAL_HEADER_PREFIXES in tools/check_layers.py")


def file_layer(root, path):
    relative = path.relative_to(root)
    top = relative.parts[0]
    if top == "include":
        return public_header_layer("/".join(relative.parts[1:]))
    folder = relative.parts[1] if len(relative.parts) > 2 else None
    if folder not in FOLDER_LAYERS:
        raise LayerError(f"{relative}: the folder src/{folder} has no layer: "
                         f"add it to FOLDER_LAYERS in tools/check_layers.py")
    return FOLDER_LAYERS[folder]


def included_file(root, path, delimiter, name):
    """The project file an include names, or None for a system header."""
    candidates = [root / "include" / name, root / "src" / name]
    if delimiter == '"':
        candidates.insert(0, path.parent / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    if name in HEADER_LAYERS:  # generated into the build tree
        return root / "include" / name
    return None


def check_file(root, path):
    problems = []
    layer = file_layer(root, path)
    relative = path.relative_to(root).as_posix()
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        match = INCLUDE.match(line)
        if not match:
            continue
        target = included_file(root, path, match.group(1), match.group(2))
        if target is None:
            continue
        target_layer = file_layer(root, target)
        if LAYERS.index(target_layer) <= LAYERS.index(layer):
            continue
        if (relative, match.group(2)) in ALLOWED:
            continue
        problems.append(f"{relative}:{number}: layer {layer} includes {match.group(2)} "
                        f"of the higher layer {target_layer}")
    return problems


def sources(root):
    for top in ("src", "include"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and path.suffix in SOURCE_SUFFIXES:
                yield path


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent).resolve()
    problems = []
    checked = 0
    for path in sources(root):
        try:
            problems += check_file(root, path)
        except LayerError as error:
            problems.append(str(error))
        checked += 1
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layers: {len(problems)} problem(s) in {checked} files", file=sys.stderr)
        return 1
    print(f"check_layers: {checked} files, every include within its layer or below")
    return 0


if __name__ == "__main__":
    sys.exit(main())
