#!/usr/bin/env python3
"""Checks the architecture of src/ against its includes (run by CTest as test
`layering`), as Bazel's layering_check does:

1. Module dependencies: every module includes only itself and the modules its
   CMake target depends on (directly or through them). A module's
   dependencies are the facet::X names in its facet_module(... DEPS ...
   PRIVATE_DEPS ...) call; app's main.cc also links the executable's targets.
2. Third-party headers stay at the edges: a library's headers may be
   included only where THIRD_PARTY below allows (docs/STYLE: "third-party
   types stay at the edge"), apart from the EXCEPTIONS listed with a reason.
3. internal/ is private: no module includes another module's
   `<module>/internal/...` headers.

Test and benchmark sources (`*_test.cc`, `*_benchmark.cc`, `testing/`
folders) are left out of checks 1 and 2 (their targets list their own
dependencies, and may link whatever the test needs) but not of check 3.

To allow a new use of a library, add its place to THIRD_PARTY (a whole
module) or to EXCEPTIONS (one file, with the reason it cannot live at the
edge). Exit status 1 if anything is wrong.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

# Where each third-party library may be included: (header prefix, places,
# why). A place is a module folder ("store/") or one file ("base/log.cc").
# A header matches when its path starts with the prefix; headers of no rule
# (the C++ and C standard library, POSIX, Abseil, zlib ...) are free.
THIRD_PARTY = [
    ("rocksdb/", ["store/"], "RocksDB stays behind store::KvStore"),
    ("roaring", ["bitmap/"], "CRoaring stays behind the Bitmap class"),
    ("boost/beast", ["api/", "client/"], "HTTP server (api/) and client (client/)"),
    ("boost/asio", ["api/", "client/"], "HTTP server (api/) and client (client/)"),
    ("simdjson", ["ingest/"], "the tracking-API parser"),
    ("nlohmann/", ["api/", "client/", "importer/"],
     "JSON replies (api/), requests (client/), and the NDJSON reader and batch bodies of facet import"),
    ("spdlog/", ["base/log.cc"], "the logging facade base/log.h hides spdlog"),
    ("fmt/", ["base/log.cc"], "only spdlog, behind the logging facade, formats with fmt"),
    ("openssl/", ["identity/"], "HMAC-SHA256 pseudonyms of identifiers"),
    ("yaml-cpp/", ["app/", "importer/"], "the config file and tag packs (app/), import mappings (importer/)"),
    ("CLI/", ["app/main.cc"], "command-line parsing happens in main() only"),
    ("gperftools/", ["app/heap_reserve.cc"], "tcmalloc is the binary's choice, tuned by HeapReserve"),
    # Planned modules (docs/STYLE: models/ and channels/).
    ("xgboost/", ["models/"], "gradient boosting stays inside the models"),
    ("curl/", ["channels/"], "outbound HTTPS and SMTP belong to the delivery channels"),
]

# Deliberate uses outside THIRD_PARTY: (file under src/, header prefix, why).
# A listed exception that no longer matches any include is an error, so the
# list stays true.
EXCEPTIONS = [
    ("segments/value.cc", "simdjson",
     "FlattenJsonObject reads the JSON text of stored traits and event properties into the person "
     "table (text ingest has already validated); no simdjson type leaves the .cc, and segments/ "
     "cannot depend on ingest/, which sits above it"),
]

MODULE_INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
ANY_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
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


def is_test_source(rel):
    return bool(re.search(r"_(test|benchmark)\.cc$", rel.name)) or "testing" in rel.parts[1:-1]


def allowed_at(places, rel_path):
    return any(rel_path == p or (p.endswith("/") and rel_path.startswith(p)) for p in places)


def where(places):
    return ", ".join(places[:-1]) + " and " + places[-1] if len(places) > 1 else places[0]


def main():
    deps = declared_deps()
    modules = {p.name for p in SRC.iterdir() if p.is_dir()}
    problems = []
    used_exceptions = set()
    files = 0
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".h", ".cc"):
            continue
        files += 1
        rel = path.relative_to(SRC)
        rel_path = rel.as_posix()
        module = rel.parts[0]
        test_source = is_test_source(rel)
        allowed_modules = closure(deps, module)
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = ANY_INCLUDE.match(line)
            if not m:
                continue
            header = m.group(1)
            at = f"src/{rel_path}:{lineno}"
            shown = line.strip()

            # 3. Another module's internal/ headers.
            parts = header.split("/")
            if len(parts) > 2 and parts[0] in modules and parts[1] == "internal" and parts[0] != module:
                problems.append(f"{at}: {shown}: {parts[0]}/internal/ is private to {parts[0]}/; "
                                f"use a public header of {parts[0]}/ (or move what you need into one)")

            if test_source:
                continue

            # 1. Module dependencies.
            mm = MODULE_INCLUDE.match(line)
            if mm and mm.group(1) in modules and mm.group(1) not in allowed_modules:
                problems.append(f"{at}: {shown}: {module}/ does not depend on facet::{mm.group(1)} "
                                f"(src/{module}/CMakeLists.txt); a module includes only modules below it")

            # 2. Third-party headers.
            for prefix, places, why in THIRD_PARTY:
                if not header.startswith(prefix) or allowed_at(places, rel_path):
                    continue
                exception = next((e for e in EXCEPTIONS if e[0] == rel_path and e[1] == prefix), None)
                if exception:
                    used_exceptions.add((exception[0], exception[1]))
                    continue
                problems.append(f"{at}: {shown}: only {where(places)} may include <{prefix}...> ({why}); "
                                f"wrap it there, or list a deliberate exception in tests/check_layering.py")

    for file, prefix, why in EXCEPTIONS:
        if (file, prefix) not in used_exceptions:
            problems.append(f"tests/check_layering.py: exception for src/{file} including <{prefix}...> "
                            f"matches no include any more; remove it from EXCEPTIONS")

    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} problem(s) in {files} files")
        return 1
    print(f"layering: OK ({files} files: module dependencies, {len(THIRD_PARTY)} third-party rules "
          f"with {len(EXCEPTIONS)} exception(s), internal/ headers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
