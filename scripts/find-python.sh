#!/usr/bin/env sh
# Print the path of a Python >= 3.12 (Mesa 3.4+ needs it), or fail saying what is needed.
# Order: $PYTHON, python3.13, python3.12, python3, then pyenv's installed interpreters.
# Each candidate is *run* with a version check: a pyenv shim can exist on PATH and still fail.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for c in ${PYTHON:-} python3.13 python3.12 python3; do
  if command -v "$c" >/dev/null 2>&1 && ok "$c"; then command -v "$c"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for c in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
  if ok "$c"; then echo "$c"; exit 0; fi
done
echo "peerwell needs Python 3.12 or newer (Mesa 3.4+ requires it). Install one (e.g. 'pyenv install 3.12'," >&2
echo "or your system's python3.12 package), or point to it with: make PYTHON=/path/to/python3.12" >&2
exit 1
