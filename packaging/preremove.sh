#!/bin/sh
# Stops the service before its binary goes away.
set -e

if [ -d /run/systemd/system ]; then
  systemctl stop bridgeway.service >/dev/null 2>&1 || true
  systemctl disable bridgeway.service >/dev/null 2>&1 || true
fi
