//! libFuzzer driver for `hublet_fuzz::amqp_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hublet_fuzz::amqp_session(data));
