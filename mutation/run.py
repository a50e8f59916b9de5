"""mutmut 3 for taskview, whose package lives in tui/: ``python mutation/run.py run --max-children 2``.

mutmut 3 copies the code into ./mutants and makes the tests import that copy, but
it only knows three layouts: the package in ., src/ or source/
(mutmut/utils/file_utils.py: setup_source_paths). For anything else it names
each mutant after the file's path (tui/taskview/store.py ->
``tui.taskview.store.x_...``) while the tests import ``taskview.store``, so no
test is ever linked to a mutant (it stops with "tests recorded trampoline hits
but none match any mutant key"), and the editable install would import the
original tui/ instead of mutants/tui/.

This script runs mutmut's own command line with some of its functions replaced,
the rest of the configuration being [tool.mutmut] in pyproject.toml:

- a mutant's module name drops the leading ``tui.``, as mutmut drops ``src.``;
- mutants/tui goes first on sys.path and tui/ (the editable install) comes off it;
- the functions that run only in forked children get their parent's tests
  (``RUN_IN_FORKED_CHILDREN``: mutmut cannot see a test reach them), and the tests
  that reach a function only in a child they fork are added to its tests
  (``TESTS_IN_FORKED_CHILDREN``);
- each mutant's worker gets a process group of its own, so that a mutant that
  signals its group (``os.kill(0, 9)``) cannot end the whole run;
- mutants/tui gets a pyproject.toml of its own: sources/child_scan.py's reader
  process runs there, on the mutants, and their trampolines need a configuration.

Every mutmut subcommand goes through it (``run``, ``results``, ``show NAME``,
``browse``), so they all name mutants alike. ``report`` prints the score per area.
Tests that start the taskview command in a new process (``python -m taskview``)
run the original code, not the mutant: only in-process tests kill mutants.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

PACKAGE_PARENT = "tui"  # the folder holding the package, where mutmut expects ., src/ or source/
ROOT = Path(__file__).resolve().parents[1]

#: The rows of ``report``: (area, file under tui/taskview/, the functions it covers or None for all).
#: tail.py's partial reads and rescans are one row; its thread loop, inotify and the
#: directory's own faults are another (integration tests cover them, not tests/unit).
TAIL_SCANS = (
    "_take",
    "_settle_cut_files",
    "_scan",
    "_read_into",
    "_read_events",
    "_drain_events",
    "_early_gone",
    "read_first_screenful",
    "_free_bytes",
)
AREAS: list[tuple[str, str, tuple[str, ...] | None]] = [
    ("results/codec.py", "results/codec.py", None),
    ("results/problems.py", "results/problems.py", None),
    ("results/record.py", "results/record.py", None),
    ("results/lean_summary.py", "results/lean_summary.py", None),
    ("results/files.py", "results/files.py", None),
    ("results/scan.py", "results/scan.py", None),
    ("results/archive.py", "results/archive.py", None),
    ("results/parallel.py", "results/parallel.py", None),
    ("results/json_output.py", "results/json_output.py", None),
    ("query.py", "query.py", None),
    ("store.py", "store.py", None),
    ("view/sorting.py", "view/sorting.py", None),
    ("view/table_model.py", "view/table_model.py", None),
    ("control/secrets.py", "control/secrets.py", None),
    ("control/stale.py", "control/stale.py", None),
    ("sources/known.py", "sources/known.py", None),
    ("sources/scan_index.py", "sources/scan_index.py", None),
    ("sources/inotify_watch.py", "sources/inotify_watch.py", None),
    ("sources/wakeup.py", "sources/wakeup.py", None),
    ("sources/tail.py: partial reads, rescans", "sources/tail.py", TAIL_SCANS),
    ("sources/tail.py: the rest (thread, inotify)", "sources/tail.py", ()),
]


#: Functions that run only in processes the tests fork (results/parallel.py's children).
#: mutmut links a test to the functions it reaches in its own process only, so these
#: would have "no tests": they get the tests of the function that forks them.
RUN_IN_FORKED_CHILDREN = {"taskview.results.parallel.x__child_main": "taskview.results.parallel.x_run_forked"}
#: Tests that reach a function only in a child they fork themselves: mutmut would not
#: run them for its mutants. pid_alive's answer for another user's process needs a
#: process that is not root (the test forks one and drops to nobody); run_forked's
#: caller taking the child's way ends its process with status 0 (the test forks one to
#: run it in, so that this shows as a missing report, not as the tests passing).
TESTS_IN_FORKED_CHILDREN = {
    "taskview.control.stale.x_pid_alive": {
        "tests/unit/test_control_stale.py::test_a_process_of_another_user_is_alive",
    },
    "taskview.results.parallel.x_run_forked": {
        "tests/unit/test_parallel_edges.py::test_the_callers_process_comes_back_with_the_results_and_only_it_does",
    },
}


def _with_forked_children(original: Callable[..., None]) -> Callable[..., None]:
    def collect_or_load_stats(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)
        from mutmut.state import state

        tests = state().tests_by_mangled_function_name
        for child, parent in RUN_IN_FORKED_CHILDREN.items():
            tests[child] = set(tests.get(child, ())) | set(tests.get(parent, ()))
        for function, forking_tests in TESTS_IN_FORKED_CHILDREN.items():
            tests[function] = set(tests.get(function, ())) | forking_tests

    return collect_or_load_stats


CHILD_CONFIG = """\
# Written by mutation/run.py for processes started in this directory (see there).
[tool.mutmut]
source_paths = ["taskview"]
"""


def _own_process_group(original: Callable[[str | None], None]) -> Callable[[str | None], None]:
    def set_mutant_under_test(name: str | None) -> None:
        if name and "__mutmut_" in name:  # in the worker just forked for this mutant
            # A mutant may signal its process group: results/parallel.py's clean-up kills
            # each child with os.kill(pid, 9), and a mutant that loses a fork's pid makes
            # that os.kill(0, 9). In a group of its own it ends this worker, not mutmut.
            os.setpgid(0, 0)
        original(name)

    return set_mutant_under_test


def _module_name_without_package_parent(original: Callable[[Path, str], str]) -> Callable[[Path, str], str]:
    def get_mutant_name(relative_source_path: Path, mutant_method_name: str) -> str:
        path = Path(relative_source_path)
        if path.parts and path.parts[0] == PACKAGE_PARENT:
            path = Path(*path.parts[1:])
        return original(path, mutant_method_name)

    return get_mutant_name


def _sys_path_on_the_mutants(original: Callable[[], None]) -> Callable[[], None]:
    def setup_source_paths() -> None:
        original()  # "." off sys.path, as mutmut does
        mutated = str((Path("mutants") / PACKAGE_PARENT).absolute())
        source = Path(PACKAGE_PARENT).resolve()
        sys.path[:] = [mutated] + [p for p in sys.path if p != mutated and Path(p or ".").resolve() != source]
        # A process the code starts from there (sources/child_scan.py's reader runs in
        # mutants/tui) imports the mutants too, whose trampolines read mutmut's
        # configuration from the working directory: give them one.
        (Path(mutated) / "pyproject.toml").write_text(CHILD_CONFIG)

    return setup_source_paths


def patch_mutmut() -> None:
    """Replace these functions wherever mutmut imported them by name."""
    import mutmut.__main__ as main_module  # imports every module below
    from mutmut.mutation import trampoline
    from mutmut.utils import file_utils, format_utils

    if "taskview" in sys.modules:
        raise SystemExit("taskview was imported before mutmut could point it at mutants/")
    replacements = {
        "get_mutant_name": (format_utils.get_mutant_name, _module_name_without_package_parent),
        "setup_source_paths": (file_utils.setup_source_paths, _sys_path_on_the_mutants),
        "collect_or_load_stats": (main_module.collect_or_load_stats, _with_forked_children),
        "set_mutant_under_test": (trampoline.set_mutant_under_test, _own_process_group),
    }
    for attribute, (original, wrap) in replacements.items():
        replacement = wrap(original)  # type: ignore[operator]
        for name, module in list(sys.modules.items()):
            if name.startswith("mutmut") and getattr(module, attribute, None) is original:
                setattr(module, attribute, replacement)


def _function_of(mutant_name: str) -> str:
    """``taskview.sources.tail.xǁDirectoryTailǁ_scan__mutmut_3`` -> ``_scan``."""
    mangled = mutant_name.partition("__mutmut_")[0].rpartition(".")[2]
    return mangled.rpartition("ǁ")[2] if "ǁ" in mangled else mangled[2:]


EQUIVALENT_LIST = ROOT / "mutation" / "EQUIVALENT.md"


def listed_equivalents(text: str) -> set[str]:
    """The mutant names EQUIVALENT.md lists as equivalent: each bullet names them in backquotes before its
    "`: why", in full (``taskview.`` left off), or by their number alone (`` `_45` ``) after
    one of the same function, ``A` to `B`` for a range."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# Left alive"):  # survivors that are not equivalent: they count as such
            break
        if not line.startswith("- `") or "`: " not in line:
            continue
        head = line.split("`: ", 1)[0] + "`"
        base = ""
        previous = None
        for token in re.findall(r"`([^`]+)`", head):
            if "__mutmut_" in token:  # a full name: the next numbers are its function's
                base, _, number = token.rpartition("_")
                previous = None
            else:
                number = token.lstrip("_")
            if not number.isdigit():
                break
            start = previous + 1 if previous is not None and f"` to `{token}`" in head else int(number)
            names.update(f"taskview.{base}_{n}" for n in range(start, int(number) + 1))
            previous = int(number)
    return names


def report(as_json: bool = False) -> int:
    from mutmut.stats import status_by_exit_code

    equivalent = listed_equivalents(EQUIVALENT_LIST.read_text()) if EQUIVALENT_LIST.exists() else set()
    rows: list[tuple[str, Counter[str] | None]] = []
    claimed: dict[str, set[str]] = {}
    for _, file, functions in AREAS:
        if functions:
            claimed.setdefault(file, set()).update(functions)
    for area, file, functions in AREAS:
        meta = ROOT / "mutants" / PACKAGE_PARENT / "taskview" / (file + ".meta")
        if not meta.exists():
            rows.append((area, None))
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            function = _function_of(name)
            if functions is None or (function in functions if functions else function not in claimed[file]):
                status = status_by_exit_code[code]
                counts[status] += 1
                if status == "survived" and name in equivalent:
                    counts["equivalent"] += 1
        rows.append((area, counts))
    if as_json:
        print(json.dumps({area: dict(found) if found is not None else None for area, found in rows}, indent=1))
        return 0
    # score: killed (a test failed, or the type check) and timed out, of the mutants checked;
    # "crashed" (the test process died of a signal: caught too, in fact) and "no tests" count
    # against it. The last column leaves out the survivors EQUIVALENT.md lists.
    print(
        "| area | mutants | killed | survived (listed equivalent) | timeout | crashed | no tests | not checked "
        "| score | score, equivalents aside |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    everything: Counter[str] = Counter()
    for _, found in rows:
        everything.update(found or {})
    for area, found in [*rows, ("all of the above", everything)]:
        if found is None:
            print(f"| {area} | not mutated yet | | | | | | | | |")
            continue
        counts = found
        total = sum(counts.values()) - counts["equivalent"]
        checked = total - counts["not checked"]
        killed = counts["killed"] + counts["caught by type check"]
        caught = killed + counts["timeout"]
        score = f"{100 * caught / checked:.1f} %" if checked else "-"
        real = checked - counts["equivalent"]
        aside = f"{100 * caught / real:.1f} %" if real else "-"
        print(
            f"| {area} | {total} | {killed} | {counts['survived']} ({counts['equivalent']}) | {counts['timeout']} | "
            f"{counts['suspicious'] + counts['segfault']} | {counts['no tests']} | {counts['not checked']} "
            f"| {score} | {aside} |"
        )
    return 0


def main() -> None:
    os.chdir(ROOT)  # mutmut works in the current directory: pyproject.toml, mutants/
    if sys.argv[1:2] == ["report"]:
        raise SystemExit(report(as_json="--json" in sys.argv[2:]))
    patch_mutmut()
    from mutmut.__main__ import cli

    cli(prog_name="mutation/run.py")


if __name__ == "__main__":
    main()
