#!/bin/sh
# The image's entry point. The Batch job definition's command is the full `node dist/container/worker.js ...`
# (src/pipeline/submit/jobSpec.ts); `docker run IMAGE --scan ...` passes bare worker arguments. Either way the
# worker replaces this shell (exec), so it is PID 1 and receives Batch's SIGTERM itself.
set -e
if [ "$#" -eq 0 ]; then
  exec node dist/container/worker.js --help
fi
case "$1" in
  node|/usr/bin/node) exec "$@" ;;
  -*) exec node dist/container/worker.js "$@" ;;
  *) exec "$@" ;;
esac
