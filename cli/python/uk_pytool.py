"""The host side of `ukernel build` for Python projects, run by the adapter runtime's host
python3.13 (the same CPython source as the guest's, so the bytecode magic matches: 3571 for all
3.13.x). Called by cli/src/build/python.ts; answers one JSON object on stdout.

    uk_pytool.py check SRC_DIR ENTRY_REL PYCACHE_OUT
        Compile every .py under SRC_DIR (paths relative to the project root, as the rootfs has
        them). On syntax errors: {"errors": [{file, line, column, message, text}]} and nothing
        written. Else each module but the entry gets PYCACHE_OUT/<dir>/__pycache__/<name>.
        cpython-313.pyc (unchecked-hash) and the answer is {"files": [...], "pycs": [...]}.
    uk_pytool.py zip LIB_DIR OUT_ZIP [--add NAME=PATH]... [--package NAME=DIR]...
        The standard library's .pyc (unchecked-hash, optimize 0) in a STORED, deterministic zip
        (entries sorted, 1980-01-01 00:00:00, mode 0644, no directory entries), without the
        excluded trees; --add puts one more module at the top (e.g. _sysconfigdata__linux_),
        --package a package directory. Answers {"entries": N, "bytes": B}.
    uk_pytool.py sitepackages OUT_DIR WHEEL...
        Unpack pure-Python wheels (in the order given) into OUT_DIR, the image's lib/site-packages:
        the wheel's root and its *.data/purelib and platlib (other *.data trees are left out);
        each .py also gets __pycache__/<name>.cpython-313.pyc (unchecked-hash, optimize 0; a
        module that does not compile keeps its .py only). A member with an absolute or `..`
        path, or a compiled extension (.so, .pyd), is refused. Answers {"files": [...]} (every
        file written, relative to OUT_DIR, sorted bytewise) or {"error": "..."}.

Facts: zipimport reads STORED members without zlib (python-3.13-addendum.md §1.9); a hash-based
.pyc with check_source unset is never compared with its source (PEP 552).
"""

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


def check(src_dir: str, entry_rel: str, pycache_out: str) -> dict:
    """See the module docstring; `src_dir` is relative to the working directory (the project)."""
    files = [f"{src_dir}/{p}" for p in py_files(src_dir)] if os.path.isdir(src_dir) else []
    if entry_rel not in files:
        files.append(entry_rel)
    errors, compiled = [], []
    for rel in files:
        with open(rel, "rb") as f:
            source = f.read()
        try:
            data = pyc_bytes(source, "/" + rel)
        except SyntaxError as err:
            errors.append(syntax_error(err, rel))
            continue
        except ValueError as err:  # e.g. "source code string cannot contain null bytes"
            errors.append({"file": rel, "line": 0, "column": 0, "message": str(err), "text": ""})
            continue
        if rel != entry_rel:
            compiled.append((rel, data))
    if errors:
        return {"errors": errors}
    pycs = []
    for rel, data in compiled:
        pycs.append(write_under(pycache_out, pycache_rel(rel), data))
    return {"files": files, "pycs": pycs}


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
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in names:
            with open(members[name], "rb") as f:
                source = f.read()
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
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


def main(argv: list[str]) -> int:
    if len(argv) >= 5 and argv[1] == "check":
        answer = check(argv[2], argv[3], argv[4])
    elif len(argv) >= 4 and argv[1] == "zip":
        adds, packages, rest = [], [], argv[4:]
        for flag, value in zip(rest[::2], rest[1::2]):
            (adds if flag == "--add" else packages).append(value)
        answer = zip_stdlib(argv[2], argv[3], adds, packages)
    elif len(argv) >= 3 and argv[1] == "sitepackages":
        answer = site_packages(argv[2], argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
