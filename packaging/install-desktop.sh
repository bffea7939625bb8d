#!/usr/bin/env bash
# Install the menu entry, icons and AppStream metainfo for the current user.
#   install-desktop.sh EXECUTABLE
# Works from a checkout (make install-desktop) and from a bundle (dist/assistant/).
# XDG_DATA_HOME (default ~/.local/share) says where.
set -euo pipefail
exe="$(realpath "${1:?usage: install-desktop.sh EXECUTABLE}")"
here="$(cd "$(dirname "$0")" && pwd)"
# In a checkout the icons are in ../resources/icons; in a bundle, beside this script.
icons="$here/icons"
[ -d "$icons" ] || icons="$here/../resources/icons"
app=dev.assistant.Assistant
data="${XDG_DATA_HOME:-$HOME/.local/share}"

# Exec is a command line: the path goes in double quotes with \ " ` $ escaped, and
# the file's own string escaping doubles each of those backslashes (Desktop Entry
# spec); % is doubled. TryExec is a plain path.
quoted="\"$(printf '%s' "$exe" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g' -e 's/%/%%/g')\""

install -d "$data/applications" "$data/metainfo"
entry="$data/applications/$app.desktop"
: > "$entry"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    TryExec=*) line="TryExec=$exe" ;;
    *) line="${line//@EXEC@/"$quoted"}" ;;  # quoted: no \ or & processing
  esac
  printf '%s\n' "$line" >> "$entry"
done < "$here/$app.desktop.in"
for s in 16 24 32 48 64 128 256 512; do
  install -D -m 644 "$icons/assistant-$s.png" "$data/icons/hicolor/${s}x${s}/apps/$app.png"
done
install -D -m 644 "$icons/assistant.svg" "$data/icons/hicolor/scalable/apps/$app.svg"
install -m 644 "$here/$app.metainfo.xml" "$data/metainfo/"
! command -v update-desktop-database >/dev/null || update-desktop-database -q "$data/applications"
! command -v gtk-update-icon-cache >/dev/null || gtk-update-icon-cache -q -t "$data/icons/hicolor"
echo "Installed: $entry (starts $exe)"
