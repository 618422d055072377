"""The fixed fuzz budget of ``make test``: generated cases through every reader and through
``logitkit run`` (see tests/fuzz/fuzz.py and docs/reliability.md; ``make fuzz`` is the long run).

Every case must exit 0 with finite results or exit 2 with one stderr line naming the
file; a traceback, a signal, CPU time or memory past the limit, stderr noise or a
many-line error fails the test, which lists each failing case with the command that runs
it again (its files kept)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _cases import FORMATS, make_case  # noqa: E402
from fuzz import OK, count_table, run_cases  # noqa: E402

SEED = 0
CASES = 96  # about 30 s on two idle cores (0.3 CPU s per reader case, about 2 per run)
CLI_SHARE = 0.15


def test_fuzz_budget():
    cases = [make_case(SEED, i, CLI_SHARE) for i in range(CASES)]
    assert {c.fmt for c in cases} == set(FORMATS) and {c.door for c in cases} == {"read", "cli"}
    results = run_cases(cases, jobs=2)
    fails = [f"{r['case'].key}: {r['outcome']}: {r['detail']}\n  rerun: {r['case'].rerun}"
             for r in results if r["outcome"] not in OK]
    assert not fails, "\n".join(fails) + "\n\n" + count_table(results)
    outcomes = {r["outcome"] for r in results}
    assert outcomes == {"ran", "error"}  # the budget reaches both ends: runs that finish, one-line errors
