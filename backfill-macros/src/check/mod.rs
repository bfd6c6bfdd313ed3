//! The rules, as a flat list: [`check`] calls each one, in the order their errors are
//! reported; each rule is a function named for what it refuses, in the file of its family
//! ([`attributes`], [`keys`], [`relative`], [`volatile`], [`order`], [`in_place`],
//! [`grouping`]). The SQL facts they decide on come from [`fragment`], which parses each
//! fragment once per engine with [`facts`], never from looking at the text. Attribute syntax (unknown keys, duplicates,
//! values of the wrong kind) was refused while parsing, in `attr`.

mod attributes;
mod facts;
mod fragment;
mod grouping;
mod in_place;
mod keys;
mod order;
mod relative;
mod schema;
mod strategy;
mod volatile;

use fragment::Parsed;

use crate::ast::Container;
use crate::ctxt::Ctxt;
use crate::model;

/// Applies every rule to `cont`; the validated model, or `None` when any error was recorded.
pub fn check(cx: &Ctxt, cont: &Container) -> Option<model::Backfill> {
    attributes::table_is_given(cx, cont);
    attributes::table_is_a_name(cx, cont);
    attributes::batch_size_is_positive(cx, cont);
    let mut parsed = Parsed::parse(cx, cont);
    let loaded = schema::load(cx, cont, &parsed.engines);
    parsed.source_columns = loaded
        .as_ref()
        .and_then(|l| schema::source_columns(l, &parsed));
    let parsed = &parsed;
    attributes::per_engine_expressions_are_generated(cx, parsed);
    keys::key_type_is_bindable(cx, parsed);
    relative::no_upsert_row_reference(cx, parsed);
    relative::no_cte_named_like_target(cx, parsed);
    relative::no_target_qualifier(cx, parsed);
    in_place::no_written_column_read(cx, parsed);
    relative::no_subquery_reading_target(cx, parsed);
    relative::no_own_column_in_larger_expression(cx, parsed);
    volatile::no_variable(cx, parsed);
    volatile::no_volatile_key(cx, parsed);
    volatile::no_volatile_value(cx, parsed);
    volatile::no_unknown_function(cx, parsed);
    order::no_order_dependent_value(cx, parsed);
    grouping::no_window_function(cx, parsed);
    in_place::key_is_the_target_column(cx, parsed);
    in_place::no_aggregate_in_place(cx, parsed);
    in_place::value_has_an_expression(cx, parsed);
    in_place::no_on_conflict_in_place(cx, parsed);
    relative::no_whole_target_row(cx, parsed);
    relative::no_written_column_read_through_from(cx, parsed);
    relative::no_target_read_hidden_in_from(cx, parsed);
    volatile::no_volatile_filter(cx, parsed);
    order::no_order_dependent_rows(cx, parsed);
    grouping::no_aggregate_in_filter(cx, parsed);
    keys::has_key(cx, parsed);
    keys::key_is_not_aggregate(cx, parsed);
    keys::key_is_not_merged(cx, parsed);
    attributes::merge_needs_update(cx, parsed);
    attributes::column_names_are_plain(cx, parsed);
    attributes::no_column_written_twice(cx, parsed);
    if let Some(loaded) = &loaded {
        schema::check(cx, parsed, loaded);
    }
    let grouped = grouping::grouped(cx, parsed);
    // Last, and only for a struct that is otherwise right: a volatile, order-dependent or
    // aggregated key is "computed" too, and one error about it is enough.
    if !cx.has_errors() {
        keys::row_key_identifies_one_source_row(cx, parsed, grouped);
    }
    if cx.has_errors() {
        return None;
    }
    let mut model = cont.model(grouped)?;
    if let (Some(loaded), Some(target)) = (&loaded, &parsed.target) {
        model.schema = schema::checked(loaded, target);
    }
    strategy::scan_can_read_the_mapping(cx, cont, &model);
    if cx.has_errors() {
        return None;
    }
    Some(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, KeyKind};
    use syn::DeriveInput;

    /// The validated model, or `None` with the errors recorded.
    fn derive_input(cx: &Ctxt, input: &DeriveInput) -> Option<model::Backfill> {
        let cont = Container::from_ast(cx, input)?;
        check(cx, &cont)
    }

    fn errors(input: DeriveInput) -> Vec<String> {
        let cx = Ctxt::new();
        let model = derive_input(&cx, &input);
        match cx.check() {
            Ok(()) => {
                assert!(model.is_some());
                Vec::new()
            }
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn aggregate_mapping_is_valid_and_grouped() {
        let input: DeriveInput = syn::parse_quote! {
            #[backfill(table = "user_stats", from = "events e", filter = "e.kind <> 'user_stats.x'")]
            struct UserStats {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "count(*)")] event_count: i64,
                #[backfill(expr = "sum(e.total_amount)")] total_amount: i64,
                #[backfill(expr = "'now()'")] note: String,
            }
        };
        let cx = Ctxt::new();
        let model = derive_input(&cx, &input);
        cx.check().unwrap();
        let model = model.unwrap();
        assert!(model.grouped);
        assert_eq!(model.job, "user_stats");
        assert_eq!(model.columns[0].key, Some(KeyKind::Int));
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "s.user_stats", from = "events", batch_size = 0, filter = "created_at > now() - interval '1 day'")]
            struct UserStats {
                #[backfill(key, expr = "max(user_id)")] user_id: i64,
                #[backfill(expr = "total_amount + amount")] total_amount: i64,
                #[backfill(expr = "user_stats.event_count + 1")] event_count: i64,
                #[backfill(expr = "random()")] salt: f64,
                #[backfill(expr = "(SELECT max(x) FROM s.user_stats)")] y: i64,
                #[backfill(column = "salt")] other: i64,
            }
        });
        let all = errs.join("\n");
        for needle in [
            "`batch_size = 0`",
            "key `user_id` uses the aggregate `max(...)`",
            "`total_amount + amount` uses `total_amount`, the column this field writes",
            "`user_stats.event_count` reads the target table `s.user_stats`",
            "`random()` is volatile",
            "a subquery reads the target table `s.user_stats`",
            "`filter` uses `now()`",
            "fields `salt` and `other` both write column `salt`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn every_message_is_a_short_cause_then_notes_and_helps() {
        let inputs: Vec<DeriveInput> = vec![
            syn::parse_quote! {
                #[backfill(table = "s.user_stats", from = "events", batch_size = 0, filter = "created_at > now() - interval '1 day'", tabel = "x")]
                struct UserStats {
                    #[backfill(key, expr = "max(user_id)")] user_id: f64,
                    #[backfill(expr = "total_amount + amount * a_rather_long_column_name")] total_amount: i64,
                    #[backfill(expr = "EXCLUDED.event_count + 1")] event_count: i64,
                    #[backfill(expr = "random()", merge = "sum")] salt: f64,
                    #[backfill(expr = "(SELECT max(x) FROM s.user_stats)")] y: i64,
                    #[backfill(column = "salt", increment)] other: i64,
                    #[backfill(expr = "sum(amount")] broken: i64,
                }
            },
            syn::parse_quote! {
                #[backfill(table = "people", on_conflict = "nothing")]
                struct People {
                    #[backfill(key, expr = "p.id")] id: i64,
                    #[backfill(expr = "visits + count(*)")] visits: i64,
                    score: i64,
                }
            },
            syn::parse_quote! {
                #[backfill(table = "t", from = "events e")]
                struct Grouped {
                    #[backfill(key, expr = "e.user_id")] user_id: i64,
                    #[backfill(expr = "sum(e.amount)")] total: i64,
                    #[backfill(expr = "sum(e.amount) * e.exchange_rate_of_the_day / 100")] scaled: i64,
                    #[backfill(expr = "row_number() OVER (ORDER BY e.id)")] n: i64,
                    region: String,
                }
            },
            syn::parse_quote! {
                #[backfill(table = "user_stats", from = "events e", filter = "is_a_very_long_function_name_indeed(e.kind)")]
                struct Unknown {
                    #[backfill(key, expr = "e.user_id")] user_id: i64,
                    #[backfill(expr = "max(another_rather_long_function_name(e.name))")] name: String,
                    #[backfill(expr = "max(split_part(e.email, '@', 2))")] domain: String,
                    #[backfill(expr = "max((WITH user_stats AS (SELECT 1 AS a) SELECT a FROM user_stats))")] a: i64,
                }
            },
            syn::parse_quote! {
                #[backfill(table = "last_order", from = "(SELECT user_id, total, a_long_column_name FROM orders) o")]
                struct FanOut {
                    #[backfill(key, expr = "o.user_id")] user_id: i64,
                    #[backfill(expr = "o.total")] total: i64,
                }
            },
            syn::parse_quote! {
                #[backfill(table = "user_emails", from = "users u")]
                struct Computed {
                    #[backfill(key, expr = "lower(u.email)")] a_rather_long_key_column_name: String,
                    #[backfill(expr = "u.name")] name: String,
                }
            },
        ];
        let mut seen = 0;
        for input in inputs {
            for message in errors(input) {
                let mut lines = message.lines();
                let cause = lines.next().unwrap_or_default();
                assert!(cause.len() <= 93, "{} chars: {cause}", cause.len());
                for line in lines {
                    assert!(
                        line.starts_with("note: ") || line.starts_with("help: "),
                        "{message}"
                    );
                }
                seen += 1;
            }
        }
        assert!(seen >= 26, "{seen} errors");
    }

    #[test]
    fn a_bare_copy_of_the_own_column_is_fine_and_volatile_can_be_allowed() {
        assert!(errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s")]
            struct T {
                #[backfill(key)] id: i64,
                #[backfill(expr = "total_amount")] total_amount: i64,
                #[backfill(expr = "now()", allow_volatile)] seen: String,
            }
        })
        .is_empty());
    }

    #[test]
    fn variables_and_executable_comments_are_refused_whatever_the_attributes() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s /*!50000 JOIN t ON t.id = s.id */", engines = "mysql")]
            struct T {
                #[backfill(key)] id: i64,
                #[backfill(expr = "@n := @n + 1", allow_volatile)] n: i64,
                #[backfill(expr = "s.a /*M! + t.a */")] a: i64,
                #[backfill(expr = "UTC_TIMESTAMP", allow_volatile)] seen: String,
                #[backfill(expr = "UTC_DATE")] day: String,
            }
        });
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].starts_with("`from` contains a MySQL executable comment `/*! ... */`"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("`expr` contains a MySQL executable comment `/*M! ... */`"),
            "{errs:?}"
        );
        assert!(errs[2].starts_with("`@n` is a variable"), "{errs:?}");
        assert!(errs[3].starts_with("`utc_date` is volatile"), "{errs:?}");
    }

    #[test]
    fn grouped_mapping_refuses_bare_columns() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "events e")]
            struct T {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "sum(e.amount)")] total: i64,
                #[backfill(expr = "e.kind")] kind: String,
                #[backfill(expr = "e.user_id * 2")] twice: i64,
                region: String,
            }
        });
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].contains("`e.kind` is outside an aggregate"),
            "{errs:?}"
        );
        assert!(
            errs[1].contains("`region` copies the source column `region`"),
            "{errs:?}"
        );
    }

    #[test]
    fn upsert_row_references_and_shapes() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s", engines = "mysql")]
            struct T {
                #[backfill(key)] id: f64,
                #[backfill(expr = "EXCLUDED.a")] a: i64,
                #[backfill(expr = "new.b + 1")] b: i64,
                #[backfill(expr = "VALUES(c)")] c: i64,
            }
        });
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].contains("key field `id` has type `f64`"),
            "{errs:?}"
        );
        assert!(errs[1].contains("EXCLUDED row"), "{errs:?}");
        assert!(errs[2].contains("inserted-row alias `new`"), "{errs:?}");
        assert!(errs[3].contains("`VALUES(c)`"), "{errs:?}");

        let errs = errors(syn::parse_quote! { enum E { A } });
        assert!(errs[0].contains("is an enum"), "{errs:?}");
        let errs = errors(syn::parse_quote! { #[backfill(table = "t")] struct G<T> { a: T } });
        assert!(errs[0].contains("is generic"), "{errs:?}");
        // No `from` is an in-place backfill, not a mistake: the table and the key are missing.
        let errs = errors(syn::parse_quote! { struct N { a: i64 } });
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("missing `table` on `N`"), "{errs:?}");
        assert!(errs[1].contains("has no key field"), "{errs:?}");
    }

    #[test]
    fn near_misses_of_the_rules_are_accepted() {
        // A source in another schema with the target's table name is not the target.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "analytics.user_stats", from = "archive.user_stats a")]
            struct A {
                #[backfill(key, expr = "a.user_id")] user_id: i64,
                #[backfill(expr = "a.total")] total: i64,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        // A source alias named `new` (or `excluded`) is the source, not the inserted row.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "users new")]
            struct B {
                #[backfill(key, expr = "new.id")] id: i64,
                #[backfill(expr = "new.total")] total: i64,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        // The string 'now' as text is a constant; as a timestamp it is the clock.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s", engines = "postgres")]
            struct C {
                #[backfill(key)] id: i64,
                #[backfill(expr = "CAST('now' AS TEXT)")] label: String,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s", engines = "postgres")]
            struct D {
                #[backfill(key)] id: i64,
                #[backfill(expr = "CAST('today' AS DATE)")] day: String,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
        // MySQL's RAND seeded from the row is a function of the row; RAND(42) is not.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "users u", engines = "mysql")]
            struct E {
                #[backfill(key, expr = "u.id")] id: i64,
                #[backfill(expr = "RAND(u.id)")] sample: f64,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "users u", engines = "mysql")]
            struct F {
                #[backfill(key, expr = "u.id")] id: i64,
                #[backfill(expr = "RAND(42)")] sample: f64,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn target_joined_in_from_cannot_feed_written_columns() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id")]
            struct T {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "max(s.total) + sum(e.amount)")] total: i64,
                #[backfill(expr = "max(s.region)")] region2: String,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("`s.total` reads a column this backfill writes"),
            "{errs:?}"
        );
        // Recomputed in place from the table's other columns: fine.
        assert!(errors(syn::parse_quote! {
            #[backfill(table = "users", from = "users")]
            struct U {
                #[backfill(key)] id: i64,
                #[backfill(expr = "lower(email)")] email_lower: String,
            }
        })
        .is_empty());
    }

    #[test]
    fn the_target_read_anywhere_in_from_or_as_a_whole_row() {
        let refused = |from: &str, expr: &str| {
            let from = syn::LitStr::new(from, proc_macro2::Span::call_site());
            let expr = syn::LitStr::new(expr, proc_macro2::Span::call_site());
            errors(syn::parse_quote! {
                #[backfill(table = "analytics.user_stats", from = #from, engines = "postgres")]
                struct T {
                    #[backfill(key, expr = "e.user_id")] user_id: i64,
                    #[backfill(expr = #expr)] total: i64,
                }
            })
        };
        for (from, expr, needle) in [
            ("events e JOIN (SELECT user_id, total FROM user_stats) s ON s.user_id = e.user_id", "sum(e.amount)", "in a subquery"),
            ("events e, LATERAL (SELECT s.total FROM analytics.user_stats s WHERE s.user_id = e.user_id) p", "sum(e.amount)", "in a subquery"),
            ("events e JOIN users u ON u.id = e.user_id AND u.score > (SELECT max(total) FROM user_stats)", "sum(e.amount)", "in a subquery"),
            ("(WITH prev AS (SELECT * FROM user_stats) SELECT e.* FROM events e JOIN prev USING (user_id)) e", "sum(e.amount)", "in a subquery"),
            ("events e JOIN user_stats AS s (uid, prev) ON s.uid = e.user_id", "sum(e.amount)", "renames the columns"),
            ("events e JOIN user_stats s ON s.user_id = e.user_id AND s.total > 0", "sum(e.amount)", "`from` reads `s.total`"),
            ("events e JOIN user_stats s ON s.user_id = e.user_id", "max(length(CAST(to_jsonb(s) AS TEXT)))", "`s` is the whole row"),
            ("events e JOIN user_stats s ON s.user_id = e.user_id", "count(s.*)", "`s.*` is the whole row"),
        ] {
            let errs = refused(from, expr);
            assert_eq!(errs.len(), 1, "{from} / {expr}: {errs:?}");
            assert!(errs[0].contains(needle), "{from} / {expr}: {errs:?}");
        }
        // The target joined on its key, reading columns it does not write; another schema's
        // table of the same name; the whole row of a source.
        for (from, expr) in [
            ("events e JOIN user_stats s ON s.user_id = e.user_id", "sum(e.amount) + max(s.user_id)"),
            ("events e JOIN archive.user_stats a ON a.user_id = e.user_id AND a.total > 0", "max(a.total)"),
            ("events e JOIN (SELECT user_id, total FROM archive.user_stats) a ON a.user_id = e.user_id", "max(a.total)"),
            ("events e", "count(e.*)"),
        ] {
            let errs = refused(from, expr);
            assert!(errs.is_empty(), "{from} / {expr}: {errs:?}");
        }
    }

    #[test]
    fn filter_cannot_aggregate() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "events e", filter = "count(*) > 1")]
            struct T {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "count(*)")] n: i64,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("`filter` uses the aggregate `count(...)`"),
            "{errs:?}"
        );
    }
}
