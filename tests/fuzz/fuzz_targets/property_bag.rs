//! libFuzzer driver for `hublet_fuzz::property_bag`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hublet_fuzz::property_bag(data));
