#!/usr/bin/env python3
"""The layering of gateway/ against the table in gateway/LAYERS.md (ctest gateway_layering).

Fails, naming the file and the line, on:
  - an `#include "gateway/X/..."` in gateway/ that the including folder's row does not allow
    (its own folder and the ones under "may include"; a file directly in gateway/ is folder ".");
  - a folder of gateway/ that the table does not list;
  - a row that may include a folder of its own layer or above (a cycle in the making);
  - a `target_link_libraries` of a layer's library that names another layer's library its row
    does not allow, and a .cc file of a folder that is not a source of that folder's library.

Usage: layering_test.py GATEWAY_DIR (the source tree's gateway/). Standard library only.
"""

import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"gateway/([^"]+)"')
CMAKE_CALL = re.compile(r"\b(add_library|target_link_libraries)\s*\(([^)]*)\)", re.S)


class Layer:
    def __init__(self, level, folder, library, may_include, line):
        self.level = level
        self.folder = folder
        self.library = library
        self.may_include = may_include
        self.line = line


def read_layers(path):
    """The rows of the table: | layer | folder | library | may include | holds |."""
    layers = {}
    for number, text in enumerate(path.read_text().splitlines(), 1):
        cells = [cell.strip() for cell in text.strip().strip("|").split("|")]
        if not text.startswith("|") or len(cells) < 4 or not cells[0].isdigit():
            continue
        layer = Layer(int(cells[0]), cells[1], cells[2], set(cells[3].split()), number)
        if layer.folder in layers:
            raise SystemExit(f"{path}:{number}: folder {layer.folder} is listed twice")
        layers[layer.folder] = layer
    if not layers:
        raise SystemExit(f"{path}: no table of layers")
    return layers


def check_table(layers, path):
    errors = []
    for layer in layers.values():
        for below in sorted(layer.may_include):
            other = layers.get(below)
            if other is None:
                errors.append(f"{path}:{layer.line}: {layer.folder} may include {below}, "
                              f"which is not in the table")
            elif other.level >= layer.level:
                errors.append(f"{path}:{layer.line}: {layer.folder} (layer {layer.level}) may "
                              f"include {below} (layer {other.level}): only lower layers")
    return errors


def folder_of(relative):
    """The folder of a path under gateway/: its first component, or "." for a top-level file."""
    parts = pathlib.PurePosixPath(relative).parts
    return parts[0] if len(parts) > 1 else "."


def check_folders(gateway, layers):
    return [f"{gateway / entry.name}: folder not listed in LAYERS.md"
            for entry in sorted(gateway.iterdir())
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in layers]


def check_includes(gateway, layers):
    errors = []
    files = 0
    includes = 0
    for source in sorted(gateway.rglob("*")):
        if source.suffix not in (".h", ".cc") or not source.is_file():
            continue
        files += 1
        folder = folder_of(source.relative_to(gateway).as_posix())
        layer = layers.get(folder)
        for number, text in enumerate(source.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(text)
            if not match:
                continue
            includes += 1
            target = folder_of(match.group(1))
            if layer is None or target == folder or target in layer.may_include:
                continue
            where = f"{source}:{number}: #include \"gateway/{match.group(1)}\""
            other = layers.get(target)
            if other is None:
                errors.append(f"{where}: {target} is not in LAYERS.md")
            elif other.level >= layer.level:
                errors.append(f"{where}: {folder} (layer {layer.level}) includes {target} "
                              f"(layer {other.level}), which is not below it")
            else:
                errors.append(f"{where}: {folder} may not include {target} (LAYERS.md: "
                              f"{' '.join(sorted(layer.may_include)) or 'nothing'})")
    return errors, files, includes


def check_targets(gateway, layers):
    errors = []
    by_library = {layer.library: layer for layer in layers.values()}
    sources = {}  # library -> .cc files named in its add_library
    for cmake in sorted(gateway.rglob("CMakeLists.txt")):
        text = re.sub(r"#[^\n]*", "", cmake.read_text())
        for call in CMAKE_CALL.finditer(text):
            words = call.group(2).split()
            if not words or words[0] not in by_library:
                continue
            layer = by_library[words[0]]
            line = text.count("\n", 0, call.start()) + 1
            if call.group(1) == "add_library":
                if cmake.parent != gateway / layer.folder:
                    errors.append(f"{cmake}:{line}: {layer.library} belongs in "
                                  f"gateway/{layer.folder}/CMakeLists.txt")
                sources[layer.library] = {w for w in words[1:] if w.endswith(".cc")}
                continue
            for word in words[1:]:
                other = by_library.get(word)
                if other and other is not layer and other.folder not in layer.may_include:
                    errors.append(f"{cmake}:{line}: {layer.library} links {word}, but "
                                  f"{layer.folder} may not include {other.folder} (LAYERS.md)")
    for layer in layers.values():
        if layer.folder == ".":
            continue  # main.cc is the executable's, gateway_options.cc the umbrella's
        if layer.library not in sources:
            errors.append(f"{gateway / layer.folder}: no add_library({layer.library} ...) "
                          f"in its CMakeLists.txt")
            continue
        for source in sorted((gateway / layer.folder).glob("*.cc")):
            if source.name not in sources[layer.library]:
                errors.append(f"{source}: not a source of {layer.library}")
    return errors


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: layering_test.py GATEWAY_DIR")
    gateway = pathlib.Path(sys.argv[1]).resolve()
    table = gateway / "LAYERS.md"
    layers = read_layers(table)
    errors = check_table(layers, table) + check_folders(gateway, layers)
    include_errors, files, includes = check_includes(gateway, layers)
    errors += include_errors + check_targets(gateway, layers)
    for error in errors:
        print(error)
    print(f"gateway_layering: {len(layers)} folders, {files} files, {includes} includes of "
          f"gateway/ headers; {len(errors)} not allowed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
