#!/bin/sh
# ansible_python_interpreter of the benchmark inventory: counts module processes, then becomes the real Python.
# One line per process in $BENCH_COUNT_FILE (O_APPEND writes of a few bytes do not interleave across forks).
if [ -n "${BENCH_COUNT_FILE:-}" ]; then
    echo "$$" >>"$BENCH_COUNT_FILE"
fi
exec "${BENCH_PYTHON:?BENCH_PYTHON must name the Python to run}" "$@"
