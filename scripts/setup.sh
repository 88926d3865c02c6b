#!/usr/bin/env bash
# Set up everything cpkit needs on a fresh Debian/Ubuntu machine: system libraries and
# fonts (via apt when run as root and something is missing), a virtual environment in
# .venv, and cpkit with its development extras. Safe to run again: it only does what is
# missing. Called by `make`; you rarely need to call it yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# System packages: Chromium, the fast PDF engine (driven by the playwright package; a
# report prints in ~2 s instead of ~16 s; Playwright's own browser download is never
# used), pango for WeasyPrint (the fallback PDF engine), harfbuzz's subsetter (WeasyPrint
# embeds the CJK font about 10x faster with it), a CJK font so Chinese renders in charts
# and PDFs, poppler-utils for pdftoppm/pdftotext/pdffonts (looking at PDFs as pictures).
# Elsewhere (Ubuntu's chromium is a snap, macOS, conda): set CPKIT_CHROMIUM to a Chromium
# or Chrome binary; without one, PDFs are written by WeasyPrint.
APT_PKGS="chromium libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei poppler-utils"
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: WARNING: missing system packages:$missing" >&2
    echo "setup: install them (e.g. sudo apt-get install$missing) for PDF output and Chinese fonts" >&2
    echo "setup: (without chromium, PDFs are written by the slower WeasyPrint)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
echo "setup: installing cpkit[dev] into $VENV"
"$VENV/bin/python" -m pip install -q -e ".[dev]"
# Byte-compile cpkit now, as pip does for a regular install: an editable install leaves it
# to the first import, which never writes the .pyc where PYTHONDONTWRITEBYTECODE is set
# (as on some CI and sandbox machines), so every notebook kernel would compile ~20
# modules again (~0.1 s each notebook).
"$VENV/bin/python" -m compileall -q cpkit >/dev/null
# The phase notebooks run on a kernel named after this environment.
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "setup: done"
