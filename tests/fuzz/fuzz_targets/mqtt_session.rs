//! libFuzzer driver for `hublet_fuzz::mqtt_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hublet_fuzz::mqtt_session(data));
