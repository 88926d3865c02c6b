"""``cpkit render``: the command-line face of :func:`cpkit.render.render`.

The coordinator registers :data:`render` in the ``cpkit`` group (cpkit/cli.py). It also
runs on its own: ``python -m cpkit.render.command PATH... --out DIR``.
"""

from __future__ import annotations

import logging
import sys

import click
import yaml

from cpkit.errors import CpkitError


def _split(ctx, param, value: str | None):
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _parse_param(ctx, param, values):
    params: dict = {}
    per_notebook: dict = {}
    for name, raw in values or ():
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if ":" in name:  # NOTEBOOK:NAME applies to one notebook only
            nb, _, key = name.partition(":")
            per_notebook.setdefault(nb, {})[key] = value
        else:
            params[name] = value
    return params, per_notebook


@click.command("render")
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--lang",
    "langs",
    default="zh",
    show_default=True,
    callback=_split,
    help="Report languages, comma separated: zh, en.",
)
@click.option(
    "--format",
    "formats",
    default="html,pdf",
    show_default=True,
    callback=_split,
    help="Output formats, comma separated: html, pdf.",
)
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel workers (default: number of CPUs).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: worker processes with warm kernels; dask: a Dask cluster.",
)
@click.option(
    "--scheduler", default=None, help="Dask scheduler address (default: a local cluster)."
)
@click.option(
    "--notebooks",
    "notebooks_dir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Folder of the phase notebooks (default: notebooks/).",
)
@click.option("--force", is_flag=True, help="Render even enterprises whose reports are up to date.")
@click.option(
    "--parameter",
    "-p",
    "params",
    nargs=2,
    multiple=True,
    callback=_parse_param,
    metavar="NAME VALUE",
    help="Extra notebook parameter (YAML value); NN_name:NAME for one notebook only.",
)
@click.option(
    "--cell-timeout",
    type=float,
    default=600,
    show_default=True,
    help="Seconds a notebook cell may run.",
)
@click.option(
    "--pdf-engine",
    type=click.Choice(["auto", "chromium", "weasyprint"]),
    default="auto",
    show_default=True,
    help="PDF engine: chromium (fast; needs Chromium and playwright), weasyprint, or auto "
    "(chromium when available).",
)
@click.option(
    "--chart-engine",
    type=click.Choice(["auto", "chromium", "vl-convert"]),
    default="auto",
    show_default=True,
    help="Who draws the static charts: chromium (all charts of an enterprise at once, in "
    "the browser that prints the PDF; fast), vl-convert (in the kernel, as in a notebook "
    "run by hand), or auto (chromium when available).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def render(
    paths,
    out,
    langs,
    formats,
    workers,
    executor,
    scheduler,
    notebooks_dir,
    force,
    params,
    cell_timeout,
    pdf_engine,
    chart_engine,
    quiet,
):
    """Render the audit reports of the datasets PATH... (folders or .xlsx) into --out.

    Writes OUT/<id>/report.<lang>.html and .pdf, OUT/<id>/notebooks/ (executed phase
    notebooks), OUT/index.html and OUT/summary.csv. Enterprises whose inputs did not
    change since their last successful render are skipped (--force renders them again).
    Exit status 1 if any enterprise failed (see OUT/<id>/failed.html), 2 for bad usage.
    """
    from cpkit.render.runner import RenderInterrupted
    from cpkit.render.runner import render as run

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parameters, notebook_parameters = params
    try:
        summary = run(
            paths,
            out,
            langs=langs,
            formats=formats,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            notebooks_dir=notebooks_dir,
            force=force,
            progress=not quiet,
            parameters=parameters,
            notebook_parameters=notebook_parameters,
            cell_timeout=cell_timeout,
            pdf_engine=pdf_engine,
            chart_engine=chart_engine,
        )
    except CpkitError as exc:
        raise click.UsageError(str(exc)) from None
    except RenderInterrupted as exc:
        click.echo(
            f"\nstopped (signal {exc.signum}): finished reports are in place, unfinished ones were "
            "not written; run the same command again to complete the batch",
            err=True,
        )
        sys.exit(128 + exc.signum)
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    n = len(summary.results)
    engines = sorted(
        {lr.pdf_engine for r in summary.rendered for lr in r.langs.values() if lr.pdf_engine}
    )
    click.echo(
        f"{n} enterprise(s): {len(summary.rendered)} rendered, {len(summary.skipped)} up to date, "
        f"{len(summary.failed)} failed in {summary.seconds:.1f} s"
        + (f" (PDF: {', '.join(engines)})" if engines else "")
        + f" -> {summary.index}"
    )
    for r in summary.failed:
        click.echo(
            f"FAILED {r.eid}: {r.reason()} (see {summary.out / r.eid / 'failed.html'})", err=True
        )
    sys.exit(summary.exit_code)


if __name__ == "__main__":  # pragma: no cover
    render()
