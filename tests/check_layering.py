#!/usr/bin/env python3
"""Checks that every module includes only itself and the modules its CMake
target depends on (directly or through them), as Bazel's layering_check does.

A module's dependencies are the facet::X names in its facet_module(... DEPS
... PRIVATE_DEPS ...) call; app's main.cc also links the executable's
targets. Test and benchmark sources are left out: their targets list their
own dependencies.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)
MODULE_CALL = re.compile(r"facet_module\((.*?)\)", re.S)
EXEC_LINK = re.compile(r"target_link_libraries\(\s*facet\s+PRIVATE(.*?)\)", re.S)


def declared_deps():
    deps = {}
    for cmake in sorted(SRC.glob("*/CMakeLists.txt")):
        text = cmake.read_text()
        for call in MODULE_CALL.findall(text):
            name = re.search(r"NAME\s+(\w+)", call).group(1)
            folder = cmake.parent.name
            deps.setdefault(folder, set()).update(re.findall(r"facet::(\w+)", call))
            deps[folder].add(folder)
            if name != folder:
                deps[folder].add(name)
        for link in EXEC_LINK.findall(text):
            deps.setdefault(cmake.parent.name, set()).update(re.findall(r"facet::(\w+)", link))
    # app_lib lives in app/.
    for d in deps.values():
        if "app_lib" in d:
            d.add("app")
    return deps


def closure(deps, module):
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(deps.get(m, ()))
    return seen


def main():
    deps = declared_deps()
    modules = {p.name for p in SRC.iterdir() if p.is_dir()}
    problems = []
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".h", ".cc") or re.search(r"_(test|benchmark)\.cc$", path.name):
            continue
        module = path.relative_to(SRC).parts[0]
        allowed = closure(deps, module)
        for included in INCLUDE.findall(path.read_text(errors="replace")):
            if included in modules and included not in allowed:
                problems.append(f"{path.relative_to(ROOT)}: includes {included}/ but {module} "
                                f"does not depend on facet::{included}")
    for p in problems:
        print(p)
    print(f"{len(problems)} layering problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
