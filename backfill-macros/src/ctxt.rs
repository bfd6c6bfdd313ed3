//! Error accumulation: every stage records its errors here instead of returning at the first
//! one, so a struct with three mistakes reports three errors in one build. Dropping a `Ctxt`
//! whose errors were never collected with [`Ctxt::check`] panics (as serde's does): an error
//! recorded and then lost would compile a backfill the rules refused.
//!
//! Every error reads the same way ([`Message`]): a short first line naming the cause, then
//! `note:` lines saying why it is refused and `help:` lines saying what to write instead, each
//! on its own line, as rustc prints its own.

use std::cell::RefCell;
use std::fmt::Display;
use std::thread;

use quote::ToTokens;

/// Collects the errors of one derive.
pub struct Ctxt {
    /// `None` once [`Ctxt::check`] has taken them.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// A context with no errors yet.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanned at `obj` (an attribute's literal, a field, a path).
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, obj: T, msg: M) {
        self.syn_error(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Records an error produced by `syn` while parsing.
    pub fn syn_error(&self, err: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("errors are recorded only before `check` consumes the context")
            .push(err);
    }

    /// Whether any error has been recorded so far.
    pub fn has_errors(&self) -> bool {
        self.errors.borrow().as_ref().is_some_and(|e| !e.is_empty())
    }

    /// How many errors have been recorded so far.
    pub fn error_count(&self) -> usize {
        self.errors.borrow().as_ref().map_or(0, Vec::len)
    }

    /// All recorded errors combined into one, or `Ok` if there were none.
    pub fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for err in errors {
            combined.combine(err);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !thread::panicking() && self.errors.borrow().is_some() {
            panic!("a backfill derive dropped its `Ctxt` without calling `check`");
        }
    }
}

/// A compile error's text: the cause, then its notes and helps, one per line.
pub struct Message {
    text: String,
}

impl Message {
    /// The cause: one short line, naming the attribute, column or call at fault.
    pub fn new(cause: impl Display) -> Self {
        Message {
            text: cause.to_string(),
        }
    }

    /// Why it is refused.
    pub fn note(self, why: impl Display) -> Self {
        self.line("note", why)
    }

    /// What to write instead.
    pub fn help(self, what: impl Display) -> Self {
        self.line("help", what)
    }

    fn line(mut self, kind: &str, text: impl Display) -> Self {
        self.text.push_str(&format!("\n{kind}: {text}"));
        self
    }
}

impl Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The user's SQL as a message shows it: quoted when short, else "this expression" (the error's
/// span underlines it anyway), so a long expression does not make a long first line.
pub fn shown(sql: &str) -> String {
    const LONGEST: usize = 40;
    let sql = sql.trim();
    if sql.chars().count() <= LONGEST {
        format!("`{sql}`")
    } else {
        "this expression".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_combined_in_the_order_recorded() {
        let cx = Ctxt::new();
        cx.error_spanned_by(quote::quote!(a), "first");
        cx.error_spanned_by(quote::quote!(b), "second");
        assert!(cx.has_errors());
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn a_message_is_the_cause_then_one_line_per_note_and_help() {
        let message = Message::new("`now()` is volatile")
            .note("a re-run writes another value")
            .help("add `allow_volatile`");
        assert_eq!(
            message.to_string(),
            "`now()` is volatile\nnote: a re-run writes another value\nhelp: add `allow_volatile`"
        );
        assert_eq!(shown(" a + b "), "`a + b`");
        assert_eq!(shown(&"x".repeat(41)), "this expression");
    }

    #[test]
    #[should_panic(expected = "without calling `check`")]
    fn dropping_unchecked_errors_panics() {
        let cx = Ctxt::new();
        cx.error_spanned_by(quote::quote!(a), "lost");
    }
}
