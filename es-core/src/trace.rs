//! Optional instrumentation with `tracing` (the crate feature `tracing`, off by default).
//!
//! The rest of the crate uses five items from here: `span!` makes a span, `record!` fills
//! in a field of the current span, `warning!` emits a `WARN` event, [`in_span`] runs a future
//! inside a span and [`Span::in_scope`] a closure.
//! Without the feature, `span!` makes a zero-sized [`Span`], `record!` expands to nothing
//! (its arguments are not evaluated) and `in_span` returns the future as it is, so the
//! instrumentation costs nothing. With the feature, they are `tracing`'s spans at the
//! `DEBUG` level under the target `es`. The spans and their fields are listed in the crate
//! docs ("Tracing").

#[cfg(feature = "tracing")]
mod imp {
    use std::future::Future;

    use tracing::Instrument as _;

    /// A span of the instrumentation.
    #[derive(Debug)]
    pub(crate) struct Span(pub(crate) tracing::Span);

    impl Span {
        /// Runs `f` inside the span.
        pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
            self.0.in_scope(f)
        }
    }

    /// Runs `future` inside `span`.
    pub(crate) fn in_span<F: Future>(
        future: F,
        span: Span,
    ) -> tracing::instrument::Instrumented<F> {
        future.instrument(span.0)
    }

    /// A `DEBUG` span named `$name` under the target `es`, with `tracing`'s field syntax;
    /// fields to be recorded later are declared as `field = ::tracing::field::Empty`.
    macro_rules! span {
        ($name:literal, $($fields:tt)*) => {
            $crate::trace::Span(::tracing::debug_span!(target: "es", $name, $($fields)*))
        };
    }

    /// Records `field = value` (or `field = %value`, with `Display`) in the current span.
    macro_rules! record {
        ($field:ident = % $value:expr) => {
            ::tracing::Span::current().record(
                ::core::stringify!($field),
                ::tracing::field::display(&$value),
            )
        };
        ($field:ident = $value:expr) => {
            ::tracing::Span::current().record(::core::stringify!($field), $value)
        };
    }

    /// A `WARN` event under the target `es`, with `tracing`'s field and message syntax.
    macro_rules! warning {
        ($($args:tt)*) => {
            ::tracing::warn!(target: "es", $($args)*)
        };
    }

    pub(crate) use {record, span, warning};
}

#[cfg(not(feature = "tracing"))]
mod imp {
    /// A span of the instrumentation: nothing without the `tracing` feature.
    #[derive(Debug)]
    pub(crate) struct Span;

    impl Span {
        /// Runs `f`.
        pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
            f()
        }
    }

    /// Returns `future` as it is: nothing to instrument without the `tracing` feature.
    pub(crate) fn in_span<F>(future: F, _span: Span) -> F {
        future
    }

    /// Nothing without the `tracing` feature; the fields are not evaluated.
    macro_rules! span {
        ($($ignored:tt)*) => {
            $crate::trace::Span
        };
    }

    /// Nothing without the `tracing` feature; the value is not evaluated.
    macro_rules! record {
        ($($ignored:tt)*) => {};
    }

    /// Nothing without the `tracing` feature; the fields are not evaluated.
    macro_rules! warning {
        ($($ignored:tt)*) => {};
    }

    pub(crate) use {record, span, warning};
}

pub(crate) use imp::{Span, in_span, record, span, warning};
