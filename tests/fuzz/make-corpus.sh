#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/ (committed; run this only to refresh them):
# real replies and announcements of the kernel, captured in a network namespace this script
# creates and deletes (a table shaped like warren-nft's, made with nft there), plus hand-made
# inputs for the text and layout parsers. Needs root, nft and python3.
set -euo pipefail
cd "$(dirname "$0")"
netns=warren-fuzz-seeds-$$
ip netns add "$netns"
trap 'ip netns delete "$netns"' EXIT
ip netns exec "$netns" python3 make_corpus.py corpus
