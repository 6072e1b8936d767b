#!/usr/bin/env python3
"""Finds import circles between the files of a Rust crate.

Usage: python3 scripts/import_cycles.py SRC_DIR [SRC_DIR ...]   (e.g. runtime/src channel/src)

Every path a file names — in `use` lines and in code (`crate::a::b`, `super::c`,
`self::d`) — is resolved to the file that defines it; a re-export in a `mod.rs` or
`lib.rs` (`pub use x::Y`) is followed to `x`'s file. `mod.rs` and `lib.rs` are tables of
contents: their `mod` and `pub use` lines are not counted as edges, but any other path
they name is. A module brought in by `use` (`use crate::sched;`) and then named in code
(`sched::spawn(..)`) counts too. Prints each circle and exits 1 if there is one.
"""
import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # drop // comments, but not inside strings (good enough for this code base)
        in_str = False
        cut = len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            elif not in_str and line.startswith("//", i):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def expand_use(body):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]"""
    body = body.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", body, flags=re.S)
    if not m:
        return [re.sub(r"\s+as\s+\w+$", "", body)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if p == "self":
            out.append(prefix.rstrip(":"))
        else:
            out.extend(expand_use(prefix + p))
    return out


def build_graph(root):
    """(files, graph): each module's file, and the modules each module names."""
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                files[module_of(root, p)] = p
    # Re-exports: (module, item) -> module that defines it.
    reexport = {}
    for mod, p in files.items():
        text = strip_comments(open(p).read())
        for m in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
            for path in expand_use(m.group(1)):
                segs = [s for s in path.split("::") if s]
                if not segs:
                    continue
                target = resolve(files, mod, segs[:-1], reexport, is_dir_mod(p))
                if target is not None:
                    reexport[(mod, segs[-1])] = target
    graph = {m: set() for m in files}
    for mod, p in files.items():
        text = strip_comments(open(p).read())
        if is_dir_mod(p):
            # The table of contents itself: what it re-exports is not its own edge.
            text = re.sub(r"pub(?:\([^)]*\))?\s+use\s+[^;]+;", "", text)
        paths = []
        aliases = {}
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            for path in expand_use(m.group(1)):
                paths.append(path)
                segs = [x for x in path.split("::") if x]
                if segs and segs[0] in ("crate", "super", "self"):
                    aliases[segs[-1]] = segs
        for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", text):
            paths.append(m.group(1))
        for child in [m[-1] for m in files if m[:-1] == mod and len(m) == len(mod) + 1]:
            aliases.setdefault(child, ["self", child])
        for name, segs in aliases.items():
            for m in re.finditer(r"(?<![:\w])" + re.escape(name) + r"((?:::\w+)+)", text):
                paths.append("::".join(segs) + m.group(1))
        for path in paths:
            segs = [s for s in path.split("::") if s]
            if segs and segs[0] not in ("crate", "super", "self"):
                # A child module named without `self::` (2018 paths).
                child = (mod if is_dir_mod(p) else mod) + (segs[0],)
                if child not in files:
                    continue
                segs = ["self"] + segs
            if not segs:
                continue
            target = resolve(files, mod, segs, reexport, is_dir_mod(p))
            if target is not None and target != mod:
                graph[mod].add(target)
    return files, graph


def main(roots):
    bad = False
    for root in roots:
        files, graph = build_graph(root)
        for cyc in cycles(graph):
            bad = True
            names = [os.path.relpath(files[m], root) for m in cyc]
            print(f"{root}: circle: " + " -> ".join(names + [names[0]]))
    return 1 if bad else 0


def is_dir_mod(p):
    return os.path.basename(p) in ("mod.rs", "lib.rs")


def resolve(files, mod, segs, reexport, from_dir_mod):
    """The module (file) a path names, following re-exports; None if outside."""
    segs = list(segs)
    if not segs:
        return None
    if segs[0] == "crate":
        base = ()
        segs = segs[1:]
    elif segs[0] in ("super", "self"):
        base = mod
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    else:
        # a sibling or child path in a mod.rs `pub use x::Y`
        base = mod if from_dir_mod else mod[:-1]
        if base + (segs[0],) not in files:
            return None
    cur = base
    for i, s in enumerate(segs):
        if cur + (s,) in files:
            cur = cur + (s,)
            continue
        if (cur, s) in reexport:
            return reexport[(cur, s)]
        break
    return cur if cur in files else None


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def layers(root, under):
    """Prints the files under `under` (a module path like `sched`) from the leaves up:
    each line holds the files that name only files on the lines above it."""
    files, graph = build_graph(root)
    prefix = tuple(under.split("::"))
    inside = {m for m in files if m[: len(prefix)] == prefix and m != prefix}
    placed, level = set(), 0
    while inside - placed:
        ready = sorted(m for m in inside - placed if (graph[m] & inside) <= placed)
        if not ready:
            print("circle among: " + ", ".join("::".join(m) for m in sorted(inside - placed)))
            return 1
        print(f"{level}: " + " ".join(m[-1] for m in ready))
        placed |= set(ready)
        level += 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--layers"]:
        # python3 scripts/import_cycles.py --layers runtime/src sched
        sys.exit(layers(sys.argv[2], sys.argv[3]))
    sys.exit(main(sys.argv[1:] or ["runtime/src"]))
