//! Compile-time checks of `#[derive(Backfill)]`: every rule of the DSL has a case that must fail
//! with a message spanned at the offending attribute, and every near miss that is fine has a case
//! that must compile. The failing cases are in one folder per rule family, named like the files
//! of `backfill-macros/src/check/`.

/// The rule families, one folder each under `tests/ui/`.
const FAILING: &[&str] = &[
    "attributes", // attribute syntax, required and conflicting attributes
    "types",      // what can derive, and the types a key or field may have
    "sql",        // fragments that do not parse for an engine
    "keys",       // a key, never aggregated or merged
    "relative",   // nothing reads the value it replaces
    "volatile",   // nothing changes between runs
    "grouping",   // a grouped mapping aggregates every value
    "in_place",   // updating the target's own rows
    "order",      // nothing depends on the order rows arrive in
    "reporting",  // every error at once, and no follow-on errors
    "schema",     // the mapping against the schema its migrations leave
    "strategy",   // what `strategy = "scan"` can read
];

#[test]
fn ui() {
    // trybuild builds each case in a crate of its own under target/: the derive resolves
    // `migrations = "tests/ui/schema/migrations/..."` against this repository instead.
    std::env::set_var("BACKFILL_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"));
    let t = trybuild::TestCases::new();
    for family in FAILING {
        t.compile_fail(format!("tests/ui/{family}/*.rs"));
    }
    t.pass("tests/ui/pass/*.rs");
}
