#!/bin/sh
# Stops the service before its binary goes away (not on upgrade: postinst
# restarts it on the new binary then).
set -e

if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop bridgeway.service >/dev/null 2>&1 || true
  systemctl disable bridgeway.service >/dev/null 2>&1 || true
fi
