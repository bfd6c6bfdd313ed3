//! Compile-time checks of `#[derive(Backfill)]`: every rule of the DSL has a case that must fail
//! with a message spanned at the offending attribute, and every near miss that is fine has a case
//! that must compile.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
