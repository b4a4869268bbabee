//! libFuzzer driver for `hublet_fuzz::rest_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hublet_fuzz::rest_body(data));
