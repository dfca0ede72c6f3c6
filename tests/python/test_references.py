"""scripts/check-references: every file and protocol section cited by a
document or a comment exists (the repository passes), and a citation of a
missing file, Markdown link or section is caught (a small tree fails)."""

import subprocess
import sys

from conftest import ROOT

CHECK = ROOT / "scripts" / "check-references"


def run(root=None):
    args = [sys.executable, str(CHECK)] + ([] if root is None else ["--root", str(root)])
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_the_repository_cites_only_what_it_has():
    r = run()
    assert r.returncode == 0, r.stdout + r.stderr


def tree(tmp_path, comment, doc_link):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "protocol.md").write_text("# Notes\n\n## 0. Rules\n\n1. one\n\n## 1. Frames\n\n### 1.2 Long form\n")
    (tmp_path / "docs" / "guide.md").write_text(f"See [the notes]({doc_link}).\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "frame.rs").write_text(comment)
    return tmp_path


def test_good_citations_pass(tmp_path):
    root = tree(
        tmp_path,
        "//! Frames (spec 1.2, docs/protocol.md 1, spec rule 1; see docs/guide.md).\n",
        "protocol.md#1-frames",
    )
    r = run(root)
    assert r.returncode == 0, r.stdout + r.stderr


def test_missing_files_and_sections_fail(tmp_path):
    root = tree(
        tmp_path,
        "//! Frames (spec 1.3; docs/protocol.md 2; docs/protocol.md rule 4; see `docs/wire-spec.md` and design.md).\n",
        "wire-protocol.md",
    )
    r = run(root)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    for expected in (
        "src/frame.rs:1: cites section 1.3 of docs/protocol.md",
        "src/frame.rs:1: cites section 2 of docs/protocol.md",
        "src/frame.rs:1: cites rule 4 of docs/protocol.md",
        "src/frame.rs:1: cites 'docs/wire-spec.md'",
        "src/frame.rs:1: cites 'design.md'",
        "docs/guide.md:1: cites 'wire-protocol.md'",
    ):
        assert expected in out, f"{expected!r} not reported:\n{out}"
