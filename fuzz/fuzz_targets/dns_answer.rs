#![no_main]
//! `cargo +nightly fuzz run dns_answer`: see fuzz/README.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xmpp_manifesto::fuzzing::dns_answer(data));
