#!/usr/bin/env bash
# Installs llama-cpp-python (the version pyproject.toml pins) into a virtual environment,
# compiled for this computer, and keeps the wheel so a fresh .venv does not compile again.
#   build-llama.sh PYTHON [CMAKE_ARG...]     e.g. build-llama.sh .venv/bin/python -DGGML_CUDA=on
#
# llama.cpp compiles with -march=native, which on Sapphire Rapids-class Intel CPUs turns on
# its AMX kernels; those crash with a segmentation fault in the first answer
# (ggml-org/llama.cpp#20824). They are left out; AVX-512 and the rest stay on.
# pip's own wheel cache does not know about compiler flags (it would hand back a wheel
# built with other flags), so the wheel is kept here, keyed by version, flags and CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$1; shift
CMAKE_EXTRA="$*"
VERSION=$(grep -o 'llama-cpp-python==[0-9][0-9.]*' pyproject.toml | head -1 | cut -d= -f3)

FLAGS=""
if [ "$(uname -m)" = "x86_64" ]; then
  FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
cpu=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || sysctl -n machdep.cpu.brand_string 2>/dev/null || uname -m) | tr -s ' ')
key=$(printf '%s|%s|%s|%s' "$VERSION" "$FLAGS" "${CMAKE_ARGS:-} $CMAKE_EXTRA" "$cpu" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/assistant-build/llama-cpp-python-$VERSION-$key"
venv="$(dirname "$(dirname "$PY")")"
if [ -n "$CMAKE_EXTRA" ]; then
  marker="$venv/.llama-custom-$VERSION-$key"
else
  marker="$venv/.llama-$key"
  # A GPU build (make llama-gpu) of this version stays until the version changes.
  ls "$venv/.llama-custom-$VERSION-"* >/dev/null 2>&1 && exit 0
fi
if [ -e "$marker" ]; then
  exit 0  # this venv already has this build
fi
if ! ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "Compiling llama-cpp-python $VERSION for this CPU (a few minutes, once)…"
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  CFLAGS="${CFLAGS:-} $FLAGS" CXXFLAGS="${CXXFLAGS:-} $FLAGS" CMAKE_ARGS="${CMAKE_ARGS:-} $CMAKE_EXTRA" \
    "$PY" -m pip wheel --disable-pip-version-check -q --no-deps --no-cache-dir \
    -w "$cache.tmp" "llama-cpp-python==$VERSION"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi
"$PY" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall "$cache"/llama_cpp_python-*.whl
rm -f "$venv"/.llama-*
touch "$marker"
