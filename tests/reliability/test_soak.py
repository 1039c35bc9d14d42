"""The soak in miniature (``make soak`` runs it for 5 minutes with 100 clients): 20 clients for
30 s of mixed traffic on a stack of its own, then every stored file checked in the primary
and the backup store, and every quota against what its user holds."""

from __future__ import annotations

from bench.soak import report, run
from bench.soak.workload import MiB


def test_thirty_seconds_of_mixed_load_lose_nothing_and_answer_no_5xx(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("soak")
    data_dir.chmod(0o755)  # the embedded PostgreSQL may run as its own user
    result = run(clients=20, seconds=30, max_size=6 * MiB, budget=300 * MiB,
                 data_dir=data_dir)
    printed = "\n".join(report.lines(result))
    print(printed)
    figures, problems = result["figures"], result["checks"]["problems"]
    assert figures["server_errors"] == figures["connection_errors"] == 0, printed
    assert not any(problems.values()), printed
    assert not result["unexpected"], printed
    assert figures["stored_files"] >= 20 and result["checks"]["checked"] == \
        figures["stored_files"], printed
    assert set(figures["statuses"]) <= {200, 201, 204, 206, 429}, printed
