#!/usr/bin/env bash
# For the seed's users: remove everything vpcctl made (same as `vpcctl cleanup-all`).
exec "$(dirname "$0")/vpcctl" cleanup-all "$@"
