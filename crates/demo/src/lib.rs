//! The demo world, in one place for the demo counter and every test and
//! benchmark that needs people, issuers and lists: a pseudonym key, demo
//! issuers standing in for 粤省事 and 粤商通, listings and exclusions, the
//! demo catalogue, sample codes for every kind of verdict ([`DemoWorld`]),
//! and a registry hub holding all of it ([`seed::demo_hub`]).
//!
//! A counter built without its `demo` feature links none of this.

mod world;

pub mod seed;

pub use world::*;
