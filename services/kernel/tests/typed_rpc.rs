//! A request cannot be paired with the wrong answer, sent in place of another request, or served by a handler that
//! answers another type: each mistake fails to build (the expected compiler errors are in `typed_rpc/*.stderr`). `correct.rs` is the same code paired rightly, so the failures are the pairings'.

#[test]
fn wrong_pairings_of_requests_subjects_and_replies_do_not_build() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/typed_rpc/correct.rs");
    cases.compile_fail("tests/typed_rpc/fail_*.rs");
}
