#![no_main]
//! `cargo +nightly fuzz run tls_reply`: see fuzz/README.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xmpp_manifesto::fuzzing::tls_reply(data));
