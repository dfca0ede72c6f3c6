"""scripts/check-readme, the runner of the README's commands (run in full
by ./scripts/test): on small READMEs of our own, a failing shell command or
Python snippet fails the run and stops its block, ``./scripts/test`` is
skipped with the reason instead of run, and a TOML block that claims to be
``deploy/named.toml`` must match that file."""

import subprocess
import sys

from conftest import ROOT

FENCE = "```"


def check(tmp_path, text):
    readme = tmp_path / "README.md"
    readme.write_text(text)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check-readme"), "--readme", str(readme)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_commands_and_snippets_run_in_order(tmp_path):
    r = check(
        tmp_path,
        f"## One\n\n{FENCE}sh\nexport GREETING=hello \\\n  && true\necho \"$GREETING from sh\"   # a comment\n{FENCE}\n\n"
        f"{FENCE}python\nprint('from python')\n{FENCE}\n\n{FENCE}sh\n./scripts/test\n{FENCE}\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hello from sh" in r.stdout and "from python" in r.stdout
    assert "skipped [One] ./scripts/test: this check runs inside it" in r.stdout
    assert "3 commands and snippets run, 1 skipped, 0 failed" in r.stdout


def test_a_failing_command_fails_and_stops_its_block(tmp_path):
    r = check(tmp_path, f"## Two\n\n{FENCE}sh\ntrue\nfalse\necho never-printed\n{FENCE}\n")
    assert r.returncode == 1
    assert "never-printed" not in r.stdout.splitlines(), r.stdout
    assert "FAILED [Two] shell block failed (exit 1)" in r.stdout


def test_a_failing_python_snippet_fails(tmp_path):
    r = check(tmp_path, f"## Three\n\n{FENCE}python\nraise SystemExit(3)\n{FENCE}\n")
    assert r.returncode == 1 and "FAILED [Three] Python block failed (exit 3)" in r.stdout


def test_named_toml_must_match_the_file(tmp_path):
    good = (ROOT / "deploy" / "named.toml").read_text().splitlines()
    objects = [ln for ln in good if ln.startswith("get_queue")]
    ok = check(tmp_path, f"## T\n\n{FENCE}toml\n# deploy/named.toml\n[objects]\n{objects[0]}\n{FENCE}\n")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = check(tmp_path, f"## T\n\n{FENCE}toml\n# deploy/named.toml\n[objects]\nget_nothing = {{ kind = \"Queue\" }}\n{FENCE}\n")
    assert bad.returncode == 1 and "'get_nothing = { kind = \"Queue\" }' is not in deploy/named.toml" in bad.stdout
