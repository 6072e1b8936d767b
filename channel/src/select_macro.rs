//! The `select!` and `select_biased!` macros: Go's `select` statement in crossbeam's syntax.
//!
//! The macros parse the arms (`__select_parse!`), bind each channel expression once
//! (`__select_bind!`), build an array of `internal::Handle`s on the stack, run the
//! shared select engine (`select.rs`) and dispatch on the chosen index
//! (`__select_dispatch!`). A send arm's message expression is evaluated only when that
//! arm wins.

/// Waits on several channel operations and runs the arm of the one that happens first.
///
/// ```text
/// select! {
///     recv(r) -> msg => body,          // msg: Result<T, RecvError>
///     send(s, value) -> res => body,   // res: Result<(), SendError<T>>
///     default => body,                 // if no operation is ready now
///     default(timeout) => body,        // if none became ready within `timeout`
/// }
/// ```
///
/// As in crossbeam-channel's syntax, `default() => body` means `default => body`, and a
/// trailing comma may close any arm's parentheses (`recv(r,)`, `send(s, value,)`).
///
/// If several operations are ready, one is chosen at random. A closed channel counts as
/// ready (the arm then gets an `Err`). Without a `default` arm the select blocks; with no
/// arms at all it blocks forever, like Go's `select {}`. The `value` of a send arm is
/// evaluated only if that arm is chosen; if the channel turns out closed, it comes back in
/// the `SendError`. (On a rendezvous channel the chosen receiver waits while `value` is
/// evaluated: compute anything expensive, or anything that blocks, before the `select!`.)
///
/// Use [`never()`](crate::never) for an arm that must not fire (Go's nil channel).
///
/// ```
/// use gogreen_channel::{bounded, select, unbounded};
/// use std::time::Duration;
///
/// let (s1, r1) = unbounded();
/// let (s2, r2) = bounded(1);
/// s1.send(10).unwrap();
///
/// select! {
///     recv(r1) -> msg => assert_eq!(msg, Ok(10)),
///     send(s2, 20) -> res => res.unwrap(),
///     default(Duration::from_secs(1)) => panic!("both were ready"),
/// }
/// # let _ = r2;
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@parse false [] [] $($tokens)*)
    };
}

/// Like [`select!`], but of the ready operations the first listed is chosen.
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@parse true [] [] $($tokens)*)
    };
}

/// Parses `select!` arms into `(recv chan (pat) [body])`, `(send chan (msg) (pat) [body])`
/// and at most one `(default (timeout?) [body])`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All arms parsed.
    (@parse $b:tt $arms:tt $default:tt) => {
        $crate::__select_bind!($b [] $arms $default)
    };
    // A comma between arms.
    (@parse $b:tt $arms:tt $default:tt , $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b $arms $default $($rest)*)
    };

    // recv(r) -> pat => body
    (@parse $b:tt [$($arms:tt)*] $default:tt
        recv($r:expr $(,)?) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b [$($arms)* (recv ($r) ($res) [$body])] $default $($rest)*)
    };
    (@parse $b:tt [$($arms:tt)*] $default:tt
        recv($r:expr $(,)?) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@parse $b [$($arms)* (recv ($r) ($res) [$body])] $default)
    };
    (@parse $b:tt [$($arms:tt)*] $default:tt
        recv($r:expr $(,)?) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b [$($arms)* (recv ($r) ($res) [$body])] $default $($rest)*)
    };

    // send(s, msg) -> pat => body
    (@parse $b:tt [$($arms:tt)*] $default:tt
        send($s:expr, $m:expr $(,)?) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b [$($arms)* (send ($s) ($m) ($res) [$body])] $default $($rest)*)
    };
    (@parse $b:tt [$($arms:tt)*] $default:tt
        send($s:expr, $m:expr $(,)?) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@parse $b [$($arms)* (send ($s) ($m) ($res) [$body])] $default)
    };
    (@parse $b:tt [$($arms:tt)*] $default:tt
        send($s:expr, $m:expr $(,)?) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b [$($arms)* (send ($s) ($m) ($res) [$body])] $default $($rest)*)
    };

    // default => body, default(timeout) => body
    // `default() => body` is `default => body`.
    (@parse $b:tt $arms:tt [] default() => $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b $arms [] default => $($rest)*)
    };
    (@parse $b:tt $arms:tt [] default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b $arms [(::core::option::Option::None) [$body]] $($rest)*)
    };
    (@parse $b:tt $arms:tt [] default => $body:expr) => {
        $crate::__select_parse!(@parse $b $arms [(::core::option::Option::None) [$body]])
    };
    (@parse $b:tt $arms:tt [] default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b $arms [(::core::option::Option::None) [$body]] $($rest)*)
    };
    (@parse $b:tt $arms:tt [] default($t:expr $(,)?) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b $arms [(::core::option::Option::Some($t)) [$body]] $($rest)*)
    };
    (@parse $b:tt $arms:tt [] default($t:expr $(,)?) => $body:expr) => {
        $crate::__select_parse!(@parse $b $arms [(::core::option::Option::Some($t)) [$body]])
    };
    (@parse $b:tt $arms:tt [] default($t:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@parse $b $arms [(::core::option::Option::Some($t)) [$body]] $($rest)*)
    };
    (@parse $b:tt $arms:tt [$($d:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("a `select!` may have only one `default` arm")
    };

    (@parse $b:tt $arms:tt $default:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "expected `recv(r) -> pat => body`, `send(s, msg) -> pat => body`, ",
            "`default => body` or `default(timeout) => body` in `select!`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };
}

/// Evaluates each channel expression once, binding it to a fresh (hygienic) name.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_bind {
    ($b:tt [$($done:tt)*] [(recv ($r:expr) $res:tt $body:tt) $($rest:tt)*] $default:tt) => {
        match &$r {
            chan => {
                let chan: &$crate::Receiver<_> = chan;
                $crate::__select_bind!($b [$($done)* (recv chan $res $body)] [$($rest)*] $default)
            }
        }
    };
    ($b:tt [$($done:tt)*] [(send ($s:expr) $m:tt $res:tt $body:tt) $($rest:tt)*] $default:tt) => {
        match &$s {
            chan => {
                let chan: &$crate::Sender<_> = chan;
                $crate::__select_bind!($b [$($done)* (send chan $m $res $body)] [$($rest)*] $default)
            }
        }
    };
    ($b:tt [$( ($kind:ident $chan:ident $($arm:tt)*) )*] [] []) => {{
        let handles: &mut [$crate::internal::Handle<'_>] =
            &mut [$( $crate::internal::Handle::$kind($chan) ),*];
        let sel = $crate::internal::select(handles, $b);
        $crate::__select_dispatch!(sel 0usize [$( ($kind $chan $($arm)*) )*])
    }};
    ($b:tt [$( ($kind:ident $chan:ident $($arm:tt)*) )*] [] [($timeout:expr) [$($default:tt)*]]) => {{
        let handles: &mut [$crate::internal::Handle<'_>] =
            &mut [$( $crate::internal::Handle::$kind($chan) ),*];
        // Not a `Result` matched in place: its drop after an arm body would keep the
        // channels borrowed, and an arm body may reassign a channel variable. `sel` is
        // consumed on every path before any body runs.
        let sel = $crate::internal::select_or_default(handles, $timeout, $b);
        if $crate::internal::is_none(&sel) {
            $crate::internal::discard(sel);
            $($default)*
        } else {
            $crate::__select_dispatch!(sel 0usize [$( ($kind $chan $($arm)*) )*])
        }
    }};
}

/// Runs the body of the arm whose index `select` returned.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_dispatch {
    ($sel:ident $n:tt []) => {{
        let _ = $sel.index();
        ::core::unreachable!("gogreen: fatal: select chose an arm that does not exist")
    }};
    ($sel:ident $n:tt [(recv $chan:ident ($res:pat) [$($body:tt)*]) $($rest:tt)*]) => {
        if $sel.index() == $n {
            match $sel.recv($chan) {
                $res => $($body)*
            }
        } else {
            $crate::__select_dispatch!($sel ($n + 1) [$($rest)*])
        }
    };
    ($sel:ident $n:tt [(send $chan:ident ($m:expr) ($res:pat) [$($body:tt)*]) $($rest:tt)*]) => {
        if $sel.index() == $n {
            match $sel.send($chan, $m) {
                $res => $($body)*
            }
        } else {
            $crate::__select_dispatch!($sel ($n + 1) [$($rest)*])
        }
    };
}
