//! libFuzzer driver for `hublet_fuzz::sas_token`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hublet_fuzz::sas_token(data));
