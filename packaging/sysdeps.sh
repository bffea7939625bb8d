#!/usr/bin/env bash
# System packages the app and its test harness need (Debian/Ubuntu names).
#   --check    print the install command for whatever is missing (never fails)
#   --install  install what is missing when root with apt-get, else print the command
set -uo pipefail

PACKAGES=(
  # Qt's xcb platform plugin
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
  # Audio capture (sounddevice needs PortAudio) and the test sound server
  libportaudio2 pulseaudio pulseaudio-utils
  # Test harness: synthetic speech, a virtual screen, a tray host, screenshots
  espeak-ng sox xvfb xdotool trayer imagemagick
  # Checks of the desktop entry and the AppStream metainfo
  desktop-file-utils appstream
  # The offline proof: every system call that could reach the network, traced
  strace
  # The bundle's run on older CPUs (Haswell, Nehalem), emulated: qemu-x86_64
  qemu-user
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="sudo apt-get install -y ${missing[*]}"
if [ "${1:-}" = "--install" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
    || { echo "Could not install system packages. Run: $cmd" >&2; exit 1; }
  exit 0
fi

if ! command -v dpkg-query >/dev/null; then
  echo "Note: voice input and the desktop window need PortAudio and Qt's xcb libraries; install them with your package manager."
  exit 0
fi
echo "Note: some system packages are missing (voice input, the window or the tests may not work)."
echo "      Install them with: $cmd"
exit 0
