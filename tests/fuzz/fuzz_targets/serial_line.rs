//! libFuzzer driver for `hublet_fuzz::serial_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hublet_fuzz::serial_line(data));
