#!/usr/bin/env bash
# A private PulseAudio server with a null sink whose monitor is the default source:
# the voice tests play speech into the sink and record it as a microphone would hear it.
#   sound-server.sh start DIR   prints the PULSE_SERVER value to use
#   sound-server.sh stop DIR
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a folder for the socket}
export PULSE_RUNTIME_PATH="$dir" PULSE_STATE_PATH="$dir" PULSE_SERVER="unix:$dir/native"
case "$cmd" in
start)
  command -v pulseaudio >/dev/null || { echo "pulseaudio is not installed (make sysdeps)" >&2; exit 3; }
  mkdir -p "$dir"
  if ! pactl info >/dev/null 2>&1; then
    # -n: no default config (no real devices); root is fine for a private test server.
    pulseaudio -D -n --exit-idle-time=-1 --log-level=error \
      --load="module-native-protocol-unix socket=$dir/native auth-anonymous=1" \
      --load="module-null-sink sink_name=vsink" 2>/dev/null
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  pactl set-default-source vsink.monitor
  pactl set-default-sink vsink
  echo "$PULSE_SERVER"
  ;;
stop)
  pulseaudio --kill 2>/dev/null || pactl exit 2>/dev/null || true
  ;;
esac
