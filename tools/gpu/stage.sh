#!/usr/bin/env bash
# Stages what the trainer needs besides LibTorch into .gpu-deps/ (ignored by git), for a bare GPU machine that has
# a CUDA LibTorch (e.g. pip's torch) but no Debian -dev packages: Abseil (headers and shared libraries), GoogleTest
# (static), nlohmann/json and xxHash (the shard reader's checksums) for the trainer; PCRE2, utf8proc, SentencePiece,
# yaml-cpp and CLI11 for the tokenizers, the GGUF exporter and the `distill` binary (its export benchmark wants the
# device's 16 cores). Laid out as a prefix their CMake package files find (they locate themselves relative to their
# own folder); the pkg-config libraries are found by name (CMakeLists.txt). Copy or carry .gpu-deps with the source
# tree, then run tools/gpu/check.sh there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/tools/setup.sh" >/dev/null  # the Debian packages the copies come from
arch=$(gcc -print-multiarch)
out="$root/.gpu-deps"
rm -rf "$out"
mkdir -p "$out/include" "$out/lib/$arch/cmake" "$out/share/cmake"
cp -r /usr/include/absl /usr/include/gtest /usr/include/gmock /usr/include/nlohmann /usr/include/xxhash.h \
  /usr/include/pcre2.h /usr/include/utf8proc.h /usr/include/sentencepiece_processor.h /usr/include/yaml-cpp \
  /usr/include/CLI "$out/include/"
cp -a /usr/lib/"$arch"/libabsl_*.so* /usr/lib/"$arch"/libxxhash.so* /usr/lib/"$arch"/libgtest*.a \
  /usr/lib/"$arch"/libgmock*.a /usr/lib/"$arch"/libpcre2-8.so* /usr/lib/"$arch"/libutf8proc.so* /usr/lib/"$arch"/libsentencepiece.so* \
  /usr/lib/"$arch"/libyaml-cpp.so* "$out/lib/$arch/"
cp -r /usr/lib/"$arch"/cmake/absl /usr/lib/"$arch"/cmake/GTest /usr/lib/"$arch"/cmake/yaml-cpp "$out/lib/$arch/cmake/"
cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$out/share/cmake/"
echo "staged $(du -sh "$out" | cut -f1) in $out"
