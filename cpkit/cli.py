"""The ``cpkit`` command line.

    cpkit validate PATH...             one line per problem, "OK <path>" for valid datasets
    cpkit export-xlsx SRC DEST.xlsx    a dataset folder (or workbook) to one workbook
    cpkit export-folder SRC.xlsx DIR   a workbook (or folder) to enterprise.yaml + CSV files
    cpkit template DEST.xlsx           the blank data-entry workbook
    cpkit schema-doc [--write FILE]    the generated part of docs/dataset.md
    cpkit --version

Exit status: 0 on success, 1 when a dataset has problems or an export fails, 2 on usage
errors. Errors are one-line messages, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cpkit import __version__

GENERATED_BEGIN = "<!-- BEGIN GENERATED: cpkit schema-doc -->"
GENERATED_END = "<!-- END GENERATED: cpkit schema-doc -->"


class _Group(click.Group):
    """A click group that turns any unexpected exception into a one-line error."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SystemExit:
            raise
        except Exception as exc:
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="cpkit")
def main() -> None:
    """cpkit: a kit for cleaner production audits (清洁生产审核)."""


@main.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_cmd(paths: tuple[Path, ...]) -> None:
    """Check datasets (folders or .xlsx workbooks) against the schema."""
    from cpkit.validate import validate

    failed = False
    for path in paths:
        problems = validate(path)
        if problems:
            failed = True
            for p in problems:
                click.echo(str(p))
        else:
            click.echo(f"OK {path}")
    sys.exit(1 if failed else 0)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@main.command("export-xlsx")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
def export_xlsx_cmd(src: Path, dest: Path) -> None:
    """Write the dataset SRC (folder or workbook) to the workbook DEST.xlsx, as written."""
    from cpkit import excel

    if dest.suffix.lower() != ".xlsx":
        _fail(f"{dest}: the destination must end in .xlsx")
    try:
        excel.export_xlsx(src, dest)
    except Exception as exc:
        _fail(str(exc))
    click.echo(f"wrote {dest}")


@main.command("export-folder")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dest_dir", type=click.Path(path_type=Path))
@click.option("--bom", is_flag=True, help="Write CSV files with a UTF-8 BOM (for Excel).")
def export_folder_cmd(src: Path, dest_dir: Path, bom: bool) -> None:
    """Write the dataset SRC (workbook or folder) as a folder DEST_DIR of CSV files."""
    from cpkit import excel

    try:
        excel.export_folder(src, dest_dir, bom=bom)
    except Exception as exc:
        _fail(str(exc))
    click.echo(f"wrote {dest_dir}")


@main.command("template")
@click.argument("dest", type=click.Path(path_type=Path))
def template_cmd(dest: Path) -> None:
    """Write the blank data-entry workbook DEST.xlsx."""
    from cpkit import excel

    if dest.suffix.lower() != ".xlsx":
        _fail(f"{dest}: the destination must end in .xlsx")
    try:
        excel.write_template(dest)
    except Exception as exc:
        _fail(str(exc))
    click.echo(f"wrote {dest}")


def replace_generated(text: str, generated: str) -> str:
    """``text`` with the block between the generated markers replaced by ``generated``."""
    start = text.find(GENERATED_BEGIN)
    end = text.find(GENERATED_END)
    if start < 0 or end < start:
        raise ValueError(f"markers {GENERATED_BEGIN!r} … {GENERATED_END!r} not found")
    head = text[: start + len(GENERATED_BEGIN)]
    return f"{head}\n\n{generated}\n{text[end:]}"


@main.command("schema-doc")
@click.option(
    "--write",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Replace the generated block of this Markdown file (docs/dataset.md).",
)
def schema_doc_cmd(target: Path | None) -> None:
    """Print the dataset reference generated from cpkit/dataset_schema.yaml."""
    from cpkit.schema import markdown

    generated = markdown()
    if target is None:
        click.echo(generated, nl=False)
        return
    try:
        text = target.read_text(encoding="utf-8")
        target.write_text(replace_generated(text, generated), encoding="utf-8")
    except (OSError, ValueError) as exc:
        _fail(f"{target}: {exc}")
    click.echo(f"updated {target}")


def _register_render() -> None:
    from cpkit.render.command import render

    main.add_command(render)


_register_render()


if __name__ == "__main__":  # pragma: no cover
    main()
