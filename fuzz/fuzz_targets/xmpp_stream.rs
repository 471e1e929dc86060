#![no_main]
//! `cargo +nightly fuzz run xmpp_stream`: see fuzz/README.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xmpp_manifesto::fuzzing::xmpp_stream(data));
