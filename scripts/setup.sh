#!/usr/bin/env bash
# Set up everything bulletin needs on a Debian machine, idempotently:
#   scripts/setup.sh build   Debian packages for fast Chinese PDFs + .venv with bulletin
#   scripts/setup.sh test    the same, plus what the tests use (Chromium, poppler-utils)
# Missing Debian packages are installed when we are root (or have sudo without a
# password); otherwise the script names them exactly and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-build}"
build_packages=(fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-liberation2)
test_packages=(poppler-utils chromium)
packages=("${build_packages[@]}")
[ "$mode" = "test" ] && packages+=("${test_packages[@]}")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt=(sudo apt-get)
  else
    echo "bulletin needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The only free simplified 仿宋 is FandolFang, shipped inside texlive-lang-chinese;
# take its Fang and Kai fonts out of the package instead of installing all of TeX.
if ! fc-list | grep -q "FandolFang"; then
  if [ "$(id -u)" -eq 0 ]; then fonts_dir=/usr/local/share/fonts/fandol; else fonts_dir="$HOME/.local/share/fonts/fandol"; fi
  echo "installing the Fandol fonts (仿宋, 楷) into $fonts_dir"
  work=$(mktemp -d)
  chmod 755 "$work"
  (cd "$work" && apt-get download -q texlive-lang-chinese >/dev/null 2>&1) || {
    echo "could not download texlive-lang-chinese for the Fandol fonts; PDFs fall back to Noto Serif CJK" >&2
  }
  if ls "$work"/texlive-lang-chinese_*.deb >/dev/null 2>&1; then
    dpkg-deb -x "$work"/texlive-lang-chinese_*.deb "$work/x"
    mkdir -p "$fonts_dir"
    cp "$work"/x/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol/Fandol{Fang,Kai}-Regular.otf "$fonts_dir"/
    fc-cache -f "$fonts_dir" >/dev/null
  fi
  rm -rf "$work"
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bulletin needs Python 3.11 or newer; $("$python" --version 2>&1) found (set PYTHON=…)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.setup-stamp
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing bulletin and its Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
# Byte-compile the package, as installing a wheel does: an editable install leaves
# that to the first import, which never keeps it where PYTHONDONTWRITEBYTECODE is set,
# so every command would compile bulletin's modules again (40-60 ms of a rebuild).
.venv/bin/python -m compileall -q bulletin
