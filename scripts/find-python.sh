#!/usr/bin/env sh
# Print the path of a Python >= 3.12 (Mesa 3.4+ needs it), or fail saying what is needed.
#   find-python.sh          the one to use: $PYTHON, python3.13, python3.12, python3, then pyenv's
#   find-python.sh oldest   the oldest supported one on this machine (CI runs the suite with it)
#   find-python.sh newest   the newest one on this machine (CI installs and imports with it too)
# Each candidate is *run* with a version check: a pyenv shim can exist on PATH and still fail.
mode=${1:-first}
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'; }
if [ -n "${PYTHON:-}" ] && [ "$mode" = first ]; then
  # An explicit choice is kept or refused, never silently replaced by another interpreter.
  if command -v "$PYTHON" >/dev/null 2>&1 && ok "$PYTHON"; then command -v "$PYTHON"; exit 0; fi
  have=$("$PYTHON" --version 2>&1 | head -n 1)
  echo "PYTHON=$PYTHON is not a Python 3.12 or newer (it answered: ${have:-nothing})." >&2
  echo "peerwell needs 3.12+ (Mesa 3.4+ requires it): give make PYTHON=/path/to/python3.12" >&2
  exit 1
fi
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
candidates() {
  for c in python3.13 python3.12 python3; do
    command -v "$c" 2>/dev/null
  done
  ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV
}
found=$(candidates | while read -r c; do
  if [ -n "$c" ] && ok "$c"; then echo "$(version "$c") $c"; fi
done)
if [ -n "$found" ]; then
  case "$mode" in
    first) echo "$found" | head -n 1 | cut -d' ' -f2- ;;
    oldest) echo "$found" | sort -V | head -n 1 | cut -d' ' -f2- ;;
    newest) echo "$found" | sort -rV | head -n 1 | cut -d' ' -f2- ;;
    *) echo "find-python.sh: mode must be first, oldest or newest, not '$mode'" >&2; exit 2 ;;
  esac
  exit 0
fi
echo "peerwell needs Python 3.12 or newer (Mesa 3.4+ requires it). Install one (e.g. 'pyenv install 3.12'," >&2
echo "or your system's python3.12 package), or point to it with: make PYTHON=/path/to/python3.12" >&2
exit 1
