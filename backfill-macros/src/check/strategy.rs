//! The strategy: `strategy = "scan"` asks for a read the mapping must allow on every engine it
//! is generated for (a grouped mapping of aggregates that merge from partials, over a `from`
//! whose first table holds every row of the join once).

use crate::ast::Container;
use crate::ctxt::{Ctxt, Message};
use crate::model::{self, Strategy};
use crate::sql::decompose;

/// `strategy = "scan"` on a mapping the scan cannot read is refused at the attribute, naming
/// the column and aggregate; `auto` falls back to ranges where the scan cannot read.
pub fn scan_can_read_the_mapping(cx: &Ctxt, cont: &Container, model: &model::Backfill) {
    let Some((Strategy::Scan, lit)) = &cont.attrs.strategy else {
        return;
    };
    for engine in cont.checked_engines() {
        if let Err(why) = decompose(model, engine) {
            cx.error_spanned_by(
                lit,
                Message::new(format!(
                    "`strategy = \"scan\"` cannot read {} on {}: {why}",
                    model.name,
                    engine.display_name()
                ))
                .note("the scan writes partial aggregates per chunk of the source and merges them per key; only count, sum, min, max, avg, bool_and/bool_or and bit_and/or/xor merge exactly")
                .help("write `strategy = \"ranges\"`, or leave `strategy` out (`auto` scans only where it can), and create the covering index `plan` prints so each range reads in order"),
            );
            return;
        }
    }
}
