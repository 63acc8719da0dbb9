//! Raw V4L2 bindings: `<linux/videodev2.h>` as bindgen 0.65.1 renders it,
//! generated once per architecture by `regenerate.sh` (which needs
//! libclang and the target's kernel and libc headers) instead of at every
//! build. The kernel's user-space API is stable, so the bindings of one
//! kernel serve the others.
#![allow(clippy::all)]
#![allow(deref_nullptr)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(non_upper_case_globals)]
#![allow(unknown_lints)]

#[cfg(target_arch = "x86_64")]
include!("bindings/x86_64.rs");

#[cfg(target_arch = "aarch64")]
include!("bindings/aarch64.rs");

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "no pregenerated V4L2 bindings for this architecture: run vendor/v4l2-sys-mit/regenerate.sh for it, or build without the camera (--no-default-features)"
);
