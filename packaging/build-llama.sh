#!/usr/bin/env bash
# Installs llama-cpp-python (the version pyproject.toml pins) into a virtual environment,
# compiled for this computer, and keeps the wheel so a fresh .venv does not compile again.
#   build-llama.sh PYTHON [CMAKE_ARG...]     e.g. build-llama.sh .venv/bin/python -DGGML_CUDA=on
# Or, for the desktop bundle, a build that runs on any x86-64 CPU, unpacked into a folder
# (the virtual environment is left as it is):
#   build-llama.sh --portable PYTHON DEST [CMAKE_ARG...]
#
# llama.cpp compiles with -march=native, which on Sapphire Rapids-class Intel CPUs turns on
# its AMX kernels; those crash with a segmentation fault in the first answer
# (ggml-org/llama.cpp#20824). They are left out; AVX-512 and the rest stay on.
# pip's own wheel cache does not know about compiler flags (it would hand back a wheel
# built with other flags), so the wheel is kept here, keyed by version, flags and CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(grep -o 'llama-cpp-python==[0-9][0-9.]*' pyproject.toml | head -1 | cut -d= -f3)
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/assistant-build"

# build_wheel PYTHON CACHE_DIR CFLAGS CMAKE_ARGS: the wheel in CACHE_DIR, compiled once.
build_wheel() {
  local py=$1 cache=$2 flags=$3 cmake_args=$4
  if ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    return 0
  fi
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  CFLAGS="${CFLAGS:-} $flags" CXXFLAGS="${CXXFLAGS:-} $flags" CMAKE_ARGS="$cmake_args" \
    "$py" -m pip wheel --disable-pip-version-check -q --no-deps --no-cache-dir \
    -w "$cache.tmp" "llama-cpp-python==$VERSION"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
}

if [ "${1:-}" = "--portable" ]; then
  # One library per CPU generation (libggml-cpu-haswell.so, -icelake.so, …) and none
  # compiled for this machine: llama.cpp scores them against the CPU it runs on and
  # loads the best one. The Sapphire Rapids variant is the only one with the AMX kernels
  # that crash, so it is not shipped; those CPUs get the AVX-512 one (all but AMX).
  PY=$2 DEST=$3
  shift 3
  PORTABLE="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
  CMAKE_EXTRA="$PORTABLE $*"
  AMX_VARIANTS="sapphirerapids"
  # Not keyed by this CPU: the build is the same wherever it is compiled.
  key=$(printf 'portable|%s|%s|%s|%s' "$VERSION" "$(uname -m)" "$CMAKE_EXTRA" "$AMX_VARIANTS" \
    | sha256sum | cut -c1-16)
  if [ "$(cat "$DEST/.build-key" 2>/dev/null)" = "$key" ]; then
    exit 0  # already unpacked
  fi
  cache="$CACHE_ROOT/llama-cpp-python-$VERSION-portable-$key"
  if ! ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "Compiling the portable llama-cpp-python $VERSION for the bundle (a CPU-variant"
    echo "library per x86-64 generation: much longer than the native build, once)…"
  fi
  # CMAKE_ARGS from the environment is for the .venv's build (a GPU, say); not used here.
  build_wheel "$PY" "$cache" "" "$CMAKE_EXTRA"
  rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
  # The wheel has the main libraries in llama_cpp/lib/ and the CPU variants in bin/ (where
  # ggml installs loadable backends). Both go into one folder: the bundle's llama_cpp/lib,
  # where the app points llama.cpp's backend search. Zip files have no symlinks, so each
  # library comes as name.so, name.so.0 and name.so.0.x.y copies: the first two are what
  # ctypes and the dynamic linker ask for.
  "$PY" - "$cache"/llama_cpp_python-*.whl "$DEST.tmp" "$AMX_VARIANTS" <<'EOF'
import re
import sys
import zipfile
from pathlib import Path

wheel, dest, skip = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split()
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = name.rsplit("/", 1)[-1]
        main = name.startswith("llama_cpp/lib/") and re.fullmatch(r"lib[\w-]+\.so(\.\d+)?", base)
        variant = name.startswith("bin/") and re.fullmatch(r"libggml-cpu-[\w.-]+\.so", base)
        if (main or variant) and not any(f"-{s}." in base for s in skip):
            (dest / base).write_bytes(z.read(name))
EOF
  ls "$DEST.tmp"/libggml-cpu-*.so >/dev/null 2>&1 \
    || { echo "The portable wheel has no CPU variant libraries (bin/libggml-cpu-*.so)." >&2; exit 1; }
  # The check that no shipped library can run an AMX instruction (a new llama.cpp could
  # add another AMX variant under a new name). objdump comes with the compiler's binutils.
  if command -v objdump >/dev/null; then
    for lib in "$DEST.tmp"/*.so; do
      if objdump -d --no-show-raw-insn "$lib" | grep -qE $'\t(ldtilecfg|tileloadd|tdpb|tilezero)'; then
        echo "$(basename "$lib") has AMX instructions (ggml-org/llama.cpp#20824); add it to AMX_VARIANTS." >&2
        exit 1
      fi
    done
  else
    echo "Note: objdump not found; the check for AMX instructions was skipped." >&2
  fi
  echo "$key" > "$DEST.tmp/.build-key"
  rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
  exit 0
fi

PY=$1; shift
CMAKE_EXTRA="$*"
FLAGS=""
if [ "$(uname -m)" = "x86_64" ]; then
  FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
cpu=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || sysctl -n machdep.cpu.brand_string 2>/dev/null || uname -m) | tr -s ' ')
key=$(printf '%s|%s|%s|%s' "$VERSION" "$FLAGS" "${CMAKE_ARGS:-} $CMAKE_EXTRA" "$cpu" | sha256sum | cut -c1-16)
cache="$CACHE_ROOT/llama-cpp-python-$VERSION-$key"
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
fi
build_wheel "$PY" "$cache" "$FLAGS" "${CMAKE_ARGS:-} $CMAKE_EXTRA"
"$PY" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall "$cache"/llama_cpp_python-*.whl
rm -f "$venv"/.llama-*
touch "$marker"
