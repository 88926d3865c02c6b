"""executor="dask": the same work through dask.distributed's concurrent.futures executor
gives the same reports as the local run."""

from __future__ import annotations

import json

import pytest

from cpkit.render import render

distributed = pytest.importorskip("distributed")

from test_render import NOTEBOOKS, make_dataset, summary_rows  # noqa: E402


def kernel_processes() -> set[int]:
    import psutil

    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "ipykernel" in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE
    }


def test_dask_run_equals_local_run(tmp_path):
    before = kernel_processes()
    ds = tmp_path / "ds"
    ds.mkdir()
    make_dataset(ds, "alpha", id="alpha")
    make_dataset(ds, "beta", id="beta", profile={"staff": 30, "output_value_10k_cny": 2400})
    make_dataset(ds, "boom", id="boom", profile={"staff": 0})
    common = dict(langs=("zh",), formats=("html",), notebooks_dir=NOTEBOOKS, progress=False)
    local = render([ds / "*"], tmp_path / "local", workers=1, **common)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    try:
        with distributed.Client(cluster) as client:
            remote = render(
                [ds / "*"], tmp_path / "dask", executor="dask", scheduler=client, **common
            )
            # the workers' kernels were shut down at the end of the run
            assert client.run(lambda: __import__("cpkit.render.runner").render.runner._KERNELS) == {
                w: {} for w in client.scheduler_info()["workers"]
            }
    finally:
        cluster.close()
    assert kernel_processes() <= before  # no kernel left running
    assert remote.executor == "dask" and remote.exit_code == local.exit_code == 1
    for eid in ("alpha", "beta"):
        a = (tmp_path / "local" / eid / "report.zh.html").read_bytes()
        b = (tmp_path / "dask" / eid / "report.zh.html").read_bytes()
        assert a == b, eid
        ra = json.loads((tmp_path / "local" / eid / ".render.json").read_text())["records"]
        rb = json.loads((tmp_path / "dask" / eid / ".render.json").read_text())["records"]
        assert ra == rb

    def strip(rows):
        return [(r["enterprise_id"], r["lang"], r["status"], r["stage"], r["error"]) for r in rows]

    assert strip(summary_rows(tmp_path / "local")) == strip(summary_rows(tmp_path / "dask"))
