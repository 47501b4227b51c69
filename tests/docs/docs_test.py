#!/usr/bin/env python3
"""Checks that the documentation stands alone and that its examples work.

  docs_test.py references SOURCE_DIR      no file points to notes outside the repository
  docs_test.py links SOURCE_DIR           every relative Markdown link and #anchor resolves
  docs_test.py blocks SOURCE_DIR TOCSIN   every block marked runnable runs (see docs/development.md)

Runnable blocks are fenced code blocks whose info string carries a marker after the language:
  ```sh run          run with bash -euo pipefail; must exit 0 ("run exit=N" for another code)
  ```yaml check=config   a tocsin.yaml fragment: its top-level keys replace the shipped
                         config's and `tocsin check` must accept the result
  ```yaml check=rules    a rules file: `tocsin check` must accept the shipped config with it
Each runs in a fresh temporary copy of config/, rules/ and runbooks/, with `tocsin` first on
PATH, so examples use the paths a reader of the checkout uses.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

DOC_GLOBS = ["README.md", "docs", "rules/README.md", "runbooks", "config", "rules"]
# The developers' notes beside the project are not shipped: nothing may send a reader there.
OUTSIDE = re.compile(r"\b(DOMAIN|PROTOCOLS|DESIGN|STYLE)\.md\b|\.\./shared\b")
FENCE = re.compile(r"^(```+|~~~+)\s*([^`]*)$")


def shipped_files(root):
    out = []
    for entry in DOC_GLOBS:
        path = os.path.join(root, entry)
        if os.path.isfile(path):
            out.append(path)
            continue
        for dirpath, _, files in os.walk(path):
            for name in sorted(files):
                if name.endswith((".md", ".yaml", ".yml", ".service", ".conf")):
                    out.append(os.path.join(dirpath, name))
    return sorted(set(out))


def check_references(root):
    problems = []
    for path in shipped_files(root):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = OUTSIDE.search(line)
                if m:
                    problems.append(f"{os.path.relpath(path, root)}:{n}: refers to {m.group(0)}, "
                                    "which is not in the repository: state the fact here")
    return problems


def slug(heading):
    # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    out, seen, in_code = set(), {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line.rstrip("\n")):
                in_code = not in_code
                continue
            m = None if in_code else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                n = seen.get(s, 0)
                seen[s] = n + 1
                out.add(s if n == 0 else f"{s}-{n}")
    return out


def check_links(root):
    problems = []
    md = [p for p in shipped_files(root) if p.endswith(".md")]
    link = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
    for path in md:
        in_code = False
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if FENCE.match(line.rstrip("\n")):
                    in_code = not in_code
                if in_code:
                    continue
                for target in link.findall(re.sub(r"`[^`]*`", "", line)):
                    if re.match(r"^[a-z]+:", target):
                        continue  # http:, https:, mailto:, file:
                    file_part, _, anchor = target.partition("#")
                    dest = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                            if file_part else path)
                    where = f"{os.path.relpath(path, root)}:{n}"
                    if not os.path.exists(dest):
                        problems.append(f"{where}: link to {target}: no such file")
                    elif not os.path.realpath(dest).startswith(os.path.realpath(root) + os.sep):
                        problems.append(f"{where}: link to {target} leaves the repository")
                    elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                        problems.append(f"{where}: link to {target}: no heading with that anchor")
    return problems


def marked_blocks(root):
    """(file, line, language, markers, text) of every block with a marker."""
    out = []
    for path in [p for p in shipped_files(root) if p.endswith(".md")]:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            fence, info = m.group(1), m.group(2).split()
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                i += 1
            if len(info) > 1:
                markers = dict(w.partition("=")[::2] for w in info[1:])
                out.append((os.path.relpath(path, root), start, info[0], markers,
                            "\n".join(lines[start:i]) + "\n"))
            i += 1
    return out


def sandbox(root):
    tmp = tempfile.mkdtemp(prefix="tocsin-docs-")
    for d in ("config", "rules", "runbooks"):
        shutil.copytree(os.path.join(root, d), os.path.join(tmp, d))
    return tmp


def run_check(tocsin, workdir):
    return subprocess.run([tocsin, "check", "--config", "config/tocsin.yaml"], cwd=workdir,
                          capture_output=True, text=True, timeout=60)


def top_level_blocks(text):
    """Splits YAML text into {top-level key: its lines} (comments kept with their key)."""
    blocks, order, key = {}, [], None
    for line in text.split("\n"):
        m = re.match(r"^([A-Za-z_][\w-]*):", line)
        if m:
            key = m.group(1)
            if key not in blocks:
                order.append(key)
            blocks[key] = [line]
        elif key is not None:
            blocks[key].append(line)
    return blocks, order


def run_block(root, tocsin, block):
    path, line, lang, markers, text = block
    where = f"{path}:{line}"
    work = sandbox(root)
    env = dict(os.environ, PATH=os.path.dirname(tocsin) + os.pathsep + os.environ["PATH"],
               HOME=work, TMPDIR=work)
    try:
        if "run" in markers:
            want = int(markers.get("exit") or 0)
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=work, env=env,
                               capture_output=True, text=True, timeout=120)
            if r.returncode != want:
                return [f"{where}: the {lang} block exited {r.returncode}, expected {want}\n"
                        f"--- block\n{text}--- stdout\n{r.stdout}--- stderr\n{r.stderr}"]
            return []
        kind = markers.get("check")
        if kind == "config":
            shipped_path = os.path.join(work, "config", "tocsin.yaml")
            with open(shipped_path, encoding="utf-8") as f:
                shipped, order = top_level_blocks(f.read())
            fragment, _ = top_level_blocks(text)
            unknown = [k for k in fragment if k not in shipped and k not in order]
            shipped.update(fragment)
            with open(shipped_path, "w", encoding="utf-8") as f:
                for k in order + unknown:
                    f.write("\n".join(shipped[k]).rstrip("\n") + "\n")
        elif kind == "rules":
            with open(os.path.join(work, "rules", "docs-example.yaml"), "w") as f:
                f.write(text)
        else:
            return [f"{where}: unknown marker {markers} (use run, check=config or check=rules)"]
        r = run_check(tocsin, work)
        if r.returncode != 0:
            return [f"{where}: `tocsin check` rejects the shipped config with this {lang} block "
                    f"(exit {r.returncode}):\n{r.stdout}{r.stderr}"]
        return []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    what, root = sys.argv[1], os.path.abspath(sys.argv[2])
    if what == "references":
        problems = check_references(root)
    elif what == "links":
        problems = check_links(root)
    elif what == "blocks":
        tocsin = os.path.abspath(sys.argv[3])
        blocks = marked_blocks(root)
        problems = []
        for b in blocks:
            problems += run_block(root, tocsin, b)
        print(f"{len(blocks)} runnable blocks in the docs, {len(problems)} failed")
        if not blocks:
            problems.append("no block is marked runnable: the docs test would prove nothing")
    else:
        sys.exit(f"unknown check {what}")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
