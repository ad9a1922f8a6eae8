#!/usr/bin/env bash
# perf_analyzer 2.51 (the release of the nvidia-pytriton 0.7.0 server) into DIR (default: .perf_analyzer):
# the binary from the tritonclient 2.51.0 wheel (later wheels no longer carry it), libb64 from the
# distribution's package, libcudart from the nvidia-pytriton wheel. Nothing is installed system-wide.
#   bash benchmarks/get_perf_analyzer.sh DIR && DIR/perf_analyzer --version
set -euo pipefail
dir="${1:-.perf_analyzer}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$dir"
cd "$dir"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
    tritonclient==2.51.0 -d wheel
unzip -o -q -j wheel/tritonclient-2.51.0-*.whl 'tritonclient-2.51.0.data/data/bin/perf_analyzer'
if [ ! -f libb64.so.0d ]; then
    apt-get download libb64-0d
    dpkg-deb -x libb64-0d_*.deb deb
    cp deb/usr/lib/x86_64-linux-gnu/libb64.so.0d .
    rm -rf deb libb64-0d_*.deb
fi
libs="$("$PYTHON" -c 'import pytriton, pathlib; print(pathlib.Path(pytriton.__file__).parents[1] / "nvidia_pytriton.libs")')"
ln -sf "$(ls "$libs"/libcudart-*.so.12* | head -1)" libcudart.so.12
rm -rf wheel
LD_LIBRARY_PATH="$PWD" ./perf_analyzer --version
