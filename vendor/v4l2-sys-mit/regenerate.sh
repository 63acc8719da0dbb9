#!/bin/sh
# Regenerates the pregenerated V4L2 bindings. Needs bindgen-cli 0.65.1
# (cargo install bindgen-cli --version 0.65.1 --locked), libclang, and the
# kernel and libc headers of each architecture (on Debian:
# linux-libc-dev, and linux-libc-dev-arm64-cross libc6-dev-arm64-cross).
set -eu
cd "$(dirname "$0")"
bindgen wrapper.h -o src/bindings/x86_64.rs -- --target=x86_64-unknown-linux-gnu
bindgen wrapper.h -o src/bindings/aarch64.rs -- --target=aarch64-unknown-linux-gnu -I/usr/aarch64-linux-gnu/include
