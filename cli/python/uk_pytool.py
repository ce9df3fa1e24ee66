"""The host side of `ukernel build` for Python projects, run by the adapter runtime's host
python3.13 (the same CPython source as the guest's, so the bytecode magic matches: 3571 for all
3.13.x). Called by cli/src/build/python.ts; answers one JSON object on stdout.

    uk_pytool.py check SRC_DIR ENTRY_REL PYCACHE_OUT [FILES_MAX DEPTH_MAX [LIB_DIR MANIFEST]]
        Compile every .py under SRC_DIR (paths relative to the project root, as the rootfs has
        them; symlinked files and directories are followed, a link back to an enclosing
        directory is not; hidden files and directories, __pycache__, node_modules, zig-out and
        *.pyc are left out; other regular files are the project's data). A file that cannot be
        read: {"unreadable": [{file, errno, link}]}. On syntax errors: {"errors": [{file, line,
        column, message, text}]} and nothing written. Else each module but the entry gets
        PYCACHE_OUT/<dir>/__pycache__/<name>.cpython-313.pyc (unchecked-hash) and the answer is
        {"files": [...], "pycs": [...], "data": [...]}. More than FILES_MAX files or
        directories nested deeper than DEPTH_MAX: {"limit": message}. With the runtime's
        LIB_DIR and MANIFEST: a top-level module or package named like one of the image's
        stdlib or built-in modules (never importable: they come first on sys.path) is
        {"shadowed": [{file, name, package, builtin}]}.
    uk_pytool.py zip LIB_DIR OUT_ZIP [--add NAME=PATH]... [--package NAME=DIR]...
        The standard library's .pyc (unchecked-hash, optimize 0) in a DEFLATED (level 9),
        deterministic zip (entries sorted, 1980-01-01 00:00:00, mode 0644, no directory
        entries; the runtime's pinned zlib compresses), without the
        excluded trees; --add puts one more module at the top (e.g. _sysconfigdata__linux_),
        --package a package directory. Answers {"entries": N, "bytes": B}.
    uk_pytool.py sitepackages OUT_DIR WHEEL...
        Unpack pure-Python wheels (in the order given) into OUT_DIR, the image's lib/site-packages:
        the wheel's root and its *.data/purelib and platlib (other *.data trees are left out);
        each .py also gets __pycache__/<name>.cpython-313.pyc (unchecked-hash, optimize 0; a
        module that does not compile keeps its .py only). A member with an absolute or `..`
        path, or a compiled extension (.so, .pyd), is refused. Answers {"files": [...]} (every
        file written, relative to OUT_DIR, sorted bytewise) or {"error": "..."}.
    uk_pytool.py tests LIB_DIR OUT_DIR NAME...
        The stdlib test packages and modules NAME (dotted, under `test`, e.g. test.support,
        test.test_math, test.mathdata) as real files under OUT_DIR (test/...): a package or a
        data directory whole (every file but __pycache__ and hidden ones), a module as its .py,
        plus the __init__.py of every package above; each .py with its unchecked-hash .pyc in
        __pycache__ beside it (files that do not compile on purpose, e.g. test/badsyntax_*.py,
        get none). Answers {"files": [paths relative to OUT_DIR, sorted]} or, when a NAME is
        neither a directory nor a module under LIB_DIR, {"missing": [NAME...]} and writes nothing.

Facts: zipimport inflates DEFLATED members with zlib, which is built into the adapter (the
whole stdlib: 10.6 MB stored, 4.45 MB deflated, python-3.13-addendum.md §6); a hash-based
.pyc with check_source unset is never compared with its source (PEP 552).
"""

import errno
import importlib.util
import json
import os
import sys
import zipfile
from importlib import _bootstrap_external

# Top-level trees of Lib/ left out of the zip (tests, GUIs, installers, tooling).
EXCLUDED_TOP = frozenset(
    [
        "test",
        "idlelib",
        "tkinter",
        "turtledemo",
        "ensurepip",
        "__phello__",
        "site-packages",
        "lib2to3",
        "pydoc_data",
        "venv",
        "lib-dynload",
        "__pycache__",
    ]
)
# Directories left out wherever they are.
EXCLUDED_ANYWHERE = frozenset(["tests", "test", "idle_test", "__pycache__"])
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_ATTRS = (0o100644 & 0xFFFF) << 16
ZIP_ENTRIES_MAX = 20000
# zlib's best: the zip is built once per runtime and cached, and inflating costs the same.
ZIP_COMPRESS_LEVEL = 9


def pyc_bytes(source: bytes, display: str) -> bytes:
    """An unchecked-hash .pyc of `source` (optimize 0); SyntaxError propagates."""
    code = compile(source, display, "exec", dont_inherit=True, optimize=0)
    source_hash = importlib.util.source_hash(source)
    return bytes(_bootstrap_external._code_to_hash_pyc(code, source_hash, False))


def syntax_error(err: SyntaxError, rel: str) -> dict:
    text = (err.text or "").rstrip("\n")
    return {
        "file": rel,
        "line": err.lineno or 0,
        "column": err.offset or 0,
        "message": err.msg or type(err).__name__,
        "text": text[:200],
    }


def py_files(root: str, top_excluded=frozenset(), anywhere=frozenset(["__pycache__"])) -> list[str]:
    """Every .py under `root`, relative to it with "/", sorted bytewise; hidden directories,
    `anywhere` at any depth and `top_excluded` at the top are skipped."""
    found = []
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        depth0 = rel_dir == "."
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in anywhere
            and not (depth0 and (d in top_excluded or d.startswith("config-")))
        ]
        for name in files:
            if name.endswith(".py"):
                found.append(name if depth0 else f"{rel_dir}/{name}".replace(os.sep, "/"))
        if len(found) > ZIP_ENTRIES_MAX:
            raise SystemExit(f"more than {ZIP_ENTRIES_MAX} .py files under {root}")
    return sorted(found, key=lambda p: p.encode())


def pyc_name(rel: str) -> str:
    return rel[: -len(".py")] + ".pyc"


# Left out of a project's source tree wherever they are (besides hidden names): tool output the
# rebuild check skips too (cli/src/build/inputs.ts).
PROJECT_SKIPPED_DIRS = frozenset(["__pycache__", "node_modules", "zig-out", "zig-cache"])
PROJECT_FILES_MAX = 5000
PROJECT_DEPTH_MAX = 16


class _Limit(Exception):
    pass


class _Unreadable(Exception):
    pass


def project_files(src_dir: str, files_max: int, depth_max: int) -> list[str]:
    """Every file under `src_dir` the image gets, "/"-joined from the working directory (the
    project), sorted bytewise. Follows symlinks (as the rebuild check does) except one back to
    an enclosing directory; a dangling link is listed (reading it reports it). Raises _Limit
    past `files_max` files or directories or `depth_max` levels, or for a name that is not
    UTF-8; _Unreadable for a directory that cannot be listed."""
    found, directories = [], 0
    pending = [(src_dir, 0, ())]
    while pending:
        directory, depth, within = pending.pop()
        real = os.path.realpath(directory)
        if real in within:
            continue  # a link to an enclosing directory: its files are there already
        within = within + (real,)
        directories += 1
        if directories > files_max:
            raise _Limit(f"more than {files_max} directories under {src_dir} (through links?)")
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name.encode("utf-8", "surrogateescape"))
        except OSError as err:
            raise _Unreadable(_unreadable(directory, err)) from None
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith((".pyc", ".pyo")):
                continue
            path = f"{directory}/{entry.name}"
            try:
                entry.name.encode("utf-8")
            except UnicodeEncodeError:
                raise _Limit(f"{path!r}: the name is not UTF-8 (rootfs paths are)") from None
            if entry.is_dir():  # follows a link
                if entry.name in PROJECT_SKIPPED_DIRS:
                    continue
                if depth + 1 > depth_max:
                    raise _Limit(f"{path} is nested more than {depth_max} levels deep")
                pending.append((path, depth + 1, within))
            elif entry.is_file() or (entry.is_symlink() and not os.path.exists(path)):
                found.append(path)
                if len(found) > files_max:
                    raise _Limit(f"more than {files_max} files under {src_dir}")
    return sorted(found, key=lambda p: p.encode())


def _unreadable(rel: str, err: OSError) -> dict:
    link = os.readlink(rel) if os.path.islink(rel) else None
    return {"file": rel, "errno": errno.errorcode.get(err.errno or 0, "EIO"), "link": link}


# Top-level modules the image has besides Lib's: what `ukernel build` adds to the zip, and the
# adapter's own built-in module (adapters/python/main.c).
ZIP_ADDED = frozenset(["_sysconfigdata__linux_", "_ukernel_asyncio", "ukernel"])
ADAPTER_BUILTINS = frozenset(["_ukernel"])


def image_modules(lib_dir: str, manifest: str) -> tuple[frozenset, frozenset]:
    """(the top-level modules and packages of the image's stdlib zip, the adapter's built-in
    modules: the runtime manifest's "modules", else this Python's)."""
    names = set(ZIP_ADDED)
    for entry in os.scandir(lib_dir):
        if entry.name.endswith(".py") and not entry.name.startswith("_sysconfigdata_"):
            names.add(entry.name[:-3])
        elif (entry.is_dir() and entry.name not in EXCLUDED_TOP
              and os.path.isfile(os.path.join(entry.path, "__init__.py"))):
            names.add(entry.name)
    builtins = set(ADAPTER_BUILTINS)
    try:
        with open(manifest, encoding="utf-8") as f:
            builtins.update(json.load(f).get("modules") or sys.builtin_module_names)
    except (OSError, ValueError):
        builtins.update(sys.builtin_module_names)
    return frozenset(names), frozenset(builtins)


def shadowed(src_dir: str, entry_rel: str, found: list[str], lib_dir: str, manifest: str) -> list:
    """Top-level modules and packages under `src_dir` that the image's sys.path can never reach:
    a built-in module or the stdlib zip, which come before /src (docs/python.md), has the name.
    The entry is run as __main__, not imported: it is not one."""
    stdlib, builtins = image_modules(lib_dir, manifest)
    clashes, seen = [], set()
    for rel in found:
        if rel == entry_rel:
            continue
        head, _, rest = rel[len(src_dir) + 1:].partition("/")
        name = head[:-3] if not rest and head.endswith(".py") else head if rest else ""
        if not name.isidentifier() or name in seen or not (name in stdlib or name in builtins):
            continue
        seen.add(name)
        clashes.append({"file": f"{src_dir}/{head}", "name": name,
                        "package": bool(rest), "builtin": name in builtins})
    return clashes


def check(src_dir: str, entry_rel: str, pycache_out: str, files_max: int = PROJECT_FILES_MAX,
          depth_max: int = PROJECT_DEPTH_MAX, lib_dir: str = "", manifest: str = "") -> dict:
    """See the module docstring; `src_dir` is relative to the working directory (the project)."""
    try:
        walk = src_dir and os.path.isdir(src_dir)
        found = project_files(src_dir, files_max, depth_max) if walk else []
    except _Limit as limit:
        return {"limit": str(limit)}
    except _Unreadable as unreadable:
        return {"unreadable": [unreadable.args[0]]}
    clashes = shadowed(src_dir, entry_rel, found, lib_dir, manifest) if lib_dir else []
    if clashes:
        return {"shadowed": clashes}
    files = [rel for rel in found if rel.endswith(".py")]
    data = [rel for rel in found if not rel.endswith(".py")]
    if entry_rel not in files:
        files.append(entry_rel)
    errors, compiled, unreadable = [], [], []
    for rel in data:
        try:
            open(rel, "rb").close()
        except OSError as err:  # a dangling link, no permission
            unreadable.append(_unreadable(rel, err))
    for rel in files:
        try:
            with open(rel, "rb") as f:
                source = f.read()
        except OSError as err:
            unreadable.append(_unreadable(rel, err))
            continue
        try:
            data_pyc = pyc_bytes(source, "/" + rel)
        except SyntaxError as err:
            errors.append(syntax_error(err, rel))
            continue
        except ValueError as err:  # e.g. "source code string cannot contain null bytes"
            errors.append({"file": rel, "line": 0, "column": 0, "message": str(err), "text": ""})
            continue
        if rel != entry_rel:
            compiled.append((rel, data_pyc))
    if unreadable:
        return {"unreadable": unreadable}
    if errors:
        return {"errors": errors}
    pycs = []
    for rel, data_pyc in compiled:
        pycs.append(write_under(pycache_out, pycache_rel(rel), data_pyc))
    return {"files": files, "pycs": pycs, "data": data}


def pycache_rel(rel: str) -> str:
    """Where the .pyc of the module at `rel` goes: <dir>/__pycache__/<name>.cpython-313.pyc."""
    head, name = os.path.split(rel)
    return f"{head + '/' if head else ''}__pycache__/{name[:-3]}.{sys.implementation.cache_tag}.pyc"


def write_under(root: str, rel: str, data: bytes) -> str:
    """Write `data` at root/rel, making its directories; returns `rel`."""
    out = os.path.join(root, rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    return rel


def zip_stdlib(lib_dir: str, out_zip: str, adds: list[str], packages: list[str]) -> dict:
    members = {}
    for rel in py_files(lib_dir, EXCLUDED_TOP, EXCLUDED_ANYWHERE):
        if "/" not in rel and rel.startswith("_sysconfigdata_"):
            continue  # the host's own; the guest's comes with --add
        members[pyc_name(rel)] = os.path.join(lib_dir, rel)
    for add in adds:
        name, _, path = add.partition("=")
        members[f"{name}.pyc"] = path
    for package in packages:
        name, _, path = package.partition("=")
        for rel in py_files(path, anywhere=EXCLUDED_ANYWHERE):
            members[f"{name}/{pyc_name(rel)}"] = os.path.join(path, rel)
    names = sorted(members, key=lambda n: n.encode())
    with zipfile.ZipFile(
        out_zip, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESS_LEVEL, allowZip64=True
    ) as archive:
        for name in names:
            with open(members[name], "rb") as f:
                source = f.read()
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.compress_level = ZIP_COMPRESS_LEVEL
            info.create_system = 3
            info.external_attr = FILE_ATTRS
            archive.writestr(info, pyc_bytes(source, f"/lib/python313.zip/{name[:-1]}"))
    return {"entries": len(names), "bytes": os.path.getsize(out_zip)}


def wheel_member_path(name: str) -> str | None:
    """Where a wheel member goes under site-packages, or None when it is left out (a directory,
    *.data/ other than purelib/platlib). Raises ValueError for an unsafe path."""
    if name.endswith("/"):
        return None
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"unsafe member path {name!r}")
    if parts[0].endswith(".data"):
        if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
            return None
        parts = parts[2:]
    return "/".join(parts)


def site_packages(out_dir: str, wheels: list[str]) -> dict:
    written = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename.encode()):
                try:
                    rel = wheel_member_path(info.filename)
                except ValueError as err:
                    return {"error": f"{os.path.basename(wheel)}: {err}"}
                if rel is None:
                    continue
                if rel.endswith((".so", ".pyd", ".dylib")) or ".so." in rel:
                    return {"error": f"{os.path.basename(wheel)}: {rel} is a compiled extension"}
                written[rel] = archive.read(info)
    files = []
    for rel, data in written.items():
        files.append(rel)
        if rel.endswith(".py"):
            try:
                pyc = pyc_bytes(data, f"/lib/site-packages/{rel}")
            except (SyntaxError, ValueError):
                pyc = None
            if pyc is not None:
                files.append(write_under(out_dir, pycache_rel(rel), pyc))
        write_under(out_dir, rel, data)
        if len(files) > ZIP_ENTRIES_MAX:
            return {"error": f"more than {ZIP_ENTRIES_MAX} files in the wheels"}
    return {"files": sorted(set(files), key=lambda p: p.encode())}


def stdlib_tests(lib_dir: str, out_dir: str, names: list[str]) -> dict:
    """See the module docstring."""
    sources, missing = set(), []
    for name in names:
        parts = name.split(".")
        base = os.path.join(lib_dir, *parts)
        if os.path.isdir(base):
            for directory, dirs, files in os.walk(base):
                dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
                for file in files:
                    if not file.startswith("."):
                        sources.add(os.path.relpath(os.path.join(directory, file), lib_dir))
        elif os.path.isfile(base + ".py"):
            sources.add(os.path.relpath(base + ".py", lib_dir))
        else:
            missing.append(name)
            continue
        for depth in range(1, len(parts)):
            init = os.path.join(*parts[:depth], "__init__.py")
            if os.path.isfile(os.path.join(lib_dir, init)):
                sources.add(init)
    if missing:
        return {"missing": missing}
    if len(sources) > ZIP_ENTRIES_MAX:
        raise SystemExit(f"more than {ZIP_ENTRIES_MAX} files in the tests named")
    written = []
    for rel in sorted(sources):
        with open(os.path.join(lib_dir, rel), "rb") as f:
            data = f.read()
        outputs = [(rel, data)]
        if rel.endswith(".py"):
            head, file = os.path.split(rel)
            pyc = os.path.join(head, "__pycache__", f"{file[:-3]}.{sys.implementation.cache_tag}.pyc")
            try:
                outputs.append((pyc, pyc_bytes(data, f"/lib/python3.13/{rel}")))
            except (SyntaxError, ValueError):
                pass  # a test's deliberately broken source: imported from the .py, if at all
        for path, content in outputs:
            out = os.path.join(out_dir, path)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(content)
            written.append(path.replace(os.sep, "/"))
    return {"files": sorted(written, key=lambda p: p.encode())}


def main(argv: list[str]) -> int:
    if len(argv) in (5, 7, 9) and argv[1] == "check":
        limits = [int(value) for value in argv[5:7]]
        answer = check(argv[2], argv[3], argv[4], *limits, *argv[7:9])
    elif len(argv) >= 4 and argv[1] == "zip":
        adds, packages, rest = [], [], argv[4:]
        for flag, value in zip(rest[::2], rest[1::2]):
            (adds if flag == "--add" else packages).append(value)
        answer = zip_stdlib(argv[2], argv[3], adds, packages)
    elif len(argv) >= 3 and argv[1] == "sitepackages":
        answer = site_packages(argv[2], argv[3:])
    elif len(argv) >= 5 and argv[1] == "tests":
        answer = stdlib_tests(argv[2], argv[3], argv[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
