//! Cancellation, Go's `context` in Rust clothes: a tree of contexts, each cancelled by
//! its owner, by its deadline, or with its parent.
//!
//! # The tree
//!
//! A [`Context`] is a cheap handle (an `Arc`) to a node. A node holds a strong
//! reference to its parent and the parent a *weak* one to each child, in a slab; the
//! child remembers its slot. So:
//!
//! - a child keeps its ancestors alive, never the other way round;
//! - a child whose every handle is dropped takes itself out of its parent's slab
//!   (`Drop for Node`): a long-lived parent does not collect dead children;
//! - a [`CancelHandle`] is weak too: it keeps nothing alive, and cancelling a context
//!   nobody can see any more is nothing.
//!
//! # Ending a context (`Node::end`), in steps
//!
//! 1. Under the node's lock: if it has ended already, stop. Else store the error (the
//!    `err` word), take the children, the sender of the `done` channel and the node's
//!    slot in its parent. Unlock.
//! 2. Close the `done` channel: every `recv`/`select!` on it wakes. Closing never waits
//!    for a receiver.
//! 3. If this node was ended by its own handle or deadline (not by its parent), take it
//!    out of its parent's slab.
//! 4. End each child that is still alive the same way, with the same error, from a
//!    work list rather than by recursion (a chain of a million contexts must not
//!    overflow a green thread's stack).
//!
//! No step holds two locks, and none waits for anybody: a cancel costs a lock per node
//! of the subtree and the wake-ups of its receivers. Creating a child locks the parent
//! then the child (the one nesting, always parent first). A child created under a
//! parent that has ended starts ended, with the parent's error; the slab of an ended
//! node stays empty, so a slot is only ever freed by the child that holds it.
//!
//! Rejected: a strong reference from parent to child (Go's map of children). A child
//! would then live as long as its parent, unless every user remembered to cancel it.
//!
//! # Deadlines
//!
//! A context with a deadline of its own (earlier than its parent's) registers one
//! entry with the process's deadline timer (`deadline.rs`): one green thread for all
//! contexts, parked until the earliest deadline. When it fires, it ends the context
//! with [`ContextError::DeadlineExceeded`]. Nobody polls, and a cancelled context costs
//! the timer nothing but a stale entry, swept out with the others.

mod deadline;

use gogreen_channel::{Receiver, Sender, bounded, never};
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Why a context ended: Go's `context.Canceled` and `context.DeadlineExceeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Its [`CancelHandle`] (or an ancestor's) was used, or its group ended.
    Cancelled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Cancelled => "context cancelled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// `Node::err` while the context runs.
const RUNNING: u8 = 0;

impl ContextError {
    fn code(self) -> u8 {
        match self {
            ContextError::Cancelled => 1,
            ContextError::DeadlineExceeded => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            RUNNING => None,
            1 => Some(ContextError::Cancelled),
            _ => Some(ContextError::DeadlineExceeded),
        }
    }
}

/// A cancellation signal shared down a tree of work: Go's `context.Context`.
///
/// Clones are cheap and share one context. Derive children with
/// [`with_cancel`](Context::with_cancel), [`with_deadline`](Context::with_deadline) or
/// [`with_timeout`](Context::with_timeout); a child ends when its parent does. Watch it
/// with [`done`](Context::done), a channel that closes when the context ends (a
/// `select!` arm), and ask why with [`err`](Context::err).
///
/// ```
/// use gogreen::{Context, ContextError, select};
/// use std::time::Duration;
///
/// let (request, cancel) = Context::background().with_cancel();
/// // A sub-task with its own time limit, also cancelled with the request.
/// let (lookup, _stop_lookup) = request.with_timeout(Duration::from_secs(3600));
/// let worker = gogreen::spawn(move || {
///     let (_tx, replies) = gogreen::chan::bounded::<u32>(0); // nobody answers
///     select! {
///         recv(replies) -> reply => Ok(reply.unwrap()),
///         recv(lookup.done()) -> _ => Err(lookup.err().unwrap()),
///     }
/// });
/// cancel.cancel();
/// assert_eq!(worker.join().unwrap(), Err(ContextError::Cancelled));
/// ```
#[derive(Clone, Default)]
pub struct Context {
    /// `None` for the background context, which never ends and has no node.
    node: Option<Arc<Node>>,
}

/// Cancels one context (and its descendants): Go's `CancelFunc`. Clones cancel the same
/// context.
///
/// The handle keeps nothing alive: once every clone of its context (and every
/// descendant) is gone, cancelling is nothing. Dropping the handle does not cancel.
#[derive(Clone)]
pub struct CancelHandle {
    node: Weak<Node>,
}

impl Context {
    /// The root of every tree: never ends, has no deadline. Costs no allocation.
    pub fn background() -> Context {
        Context { node: None }
    }

    /// A child that ends when `cancel` is used or when this context ends.
    pub fn with_cancel(&self) -> (Context, CancelHandle) {
        self.child(None)
    }

    /// A child that also ends, with [`ContextError::DeadlineExceeded`], when `deadline`
    /// passes. If this context's own deadline is earlier, the child just shares it.
    ///
    /// Deadlines are kept by one green thread for the whole process, started (with the
    /// runtime, if need be) by the first context that has one.
    ///
    /// # Panics
    ///
    /// If that green thread has to be started and cannot be (no stack can be had).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use gogreen::{Context, ContextError};
    ///
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// let (ctx, _cancel) = Context::background().with_deadline(deadline);
    /// assert_eq!(ctx.deadline(), Some(deadline));
    /// let _ = ctx.done().recv(); // closed when the deadline passes
    /// assert!(Instant::now() >= deadline);
    /// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelHandle) {
        self.child(Some(deadline))
    }

    /// [`with_deadline`](Context::with_deadline) at `timeout` from now. A timeout too
    /// large for the clock means no deadline.
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelHandle) {
        self.child(Instant::now().checked_add(timeout))
    }

    /// A receiver that gets no message and is closed when the context ends: a `recv`
    /// arm of `select!` fires then (with `Err`). The background context's never
    /// closes.
    ///
    /// The channel is made on the first call. A clone of the receiver outliving every
    /// handle of the context sees it closed when the last one is dropped: keep the
    /// context while you watch it.
    pub fn done(&self) -> &Receiver<()> {
        match &self.node {
            None => {
                static NEVER: OnceLock<Receiver<()>> = OnceLock::new();
                NEVER.get_or_init(never)
            }
            Some(node) => node.done(),
        }
    }

    /// `None` while the context runs; then why it ended. Once `Some`, it stays the same.
    pub fn err(&self) -> Option<ContextError> {
        self.node.as_ref().and_then(|n| n.err())
    }

    /// Whether the context has ended: `err().is_some()`.
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// When the context ends by itself: its own deadline or an ancestor's, the
    /// earliest.
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|n| n.deadline)
    }

    fn child(&self, deadline: Option<Instant>) -> (Context, CancelHandle) {
        let inherited = self.deadline();
        // The child's timer is needed only if it fires before the parent's.
        let (deadline, timed) = match (deadline, inherited) {
            (Some(own), Some(parent)) if parent <= own => (Some(parent), false),
            (Some(own), _) => (Some(own), true),
            (None, parent) => (parent, false),
        };
        let node = Arc::new(Node {
            parent: self.node.clone(),
            deadline,
            err: AtomicU8::new(RUNNING),
            done: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
        });
        if let Some(parent) = &node.parent
            && let Err(err) = parent.adopt(&node)
        {
            node.end(err, Ender::Parent);
        }
        if let Some(when) = deadline.filter(|_| timed && !node.is_done()) {
            if when <= Instant::now() {
                node.end(ContextError::DeadlineExceeded, Ender::Own);
            } else {
                deadline::register(when, &node);
            }
        }
        let cancel = CancelHandle {
            node: Arc::downgrade(&node),
        };
        (Context { node: Some(node) }, cancel)
    }

    /// How many children are registered with this context right now (a snapshot): for
    /// the tests of the tree's bookkeeping, not an API.
    #[doc(hidden)]
    pub fn child_count(&self) -> usize {
        self.node
            .as_ref()
            .map_or(0, |n| n.inner.lock().children.len())
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish()
    }
}

impl CancelHandle {
    /// Ends the context with [`ContextError::Cancelled`], and its descendants with it,
    /// unless it has ended already. Never waits: not for the children, not for anybody
    /// receiving on `done()`.
    pub fn cancel(&self) {
        if let Some(node) = self.node.upgrade() {
            node.end(ContextError::Cancelled, Ender::Own);
        }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle").finish_non_exhaustive()
    }
}

/// One context of the tree.
struct Node {
    /// Set at creation; taken only by `Drop`.
    parent: Option<Arc<Node>>,
    /// Its own deadline or an ancestor's, the earliest. Set at creation.
    deadline: Option<Instant>,
    /// `RUNNING`, then the code of the `ContextError` it ended with. Written once, under
    /// `inner`'s lock; read anywhere.
    err: AtomicU8,
    /// What `done()` hands out, made on its first call (under `inner`'s lock).
    done: OnceLock<Receiver<()>>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The children to end with this node. Emptied for good when it ends.
    children: Slab,
    /// Closed when the node ends; there only if `done()` was called before.
    done_tx: Option<Sender<()>>,
    /// This node's slot in its parent's slab, while it is there. Written by `adopt`,
    /// taken by whoever takes the node out (step 3 of ending, or `Drop`).
    slot: Option<usize>,
}

/// Who ends a node: its own handle or deadline, or its parent (which has emptied its
/// slab already, so the child need not leave it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ender {
    Own,
    Parent,
}

impl Node {
    fn err(&self) -> Option<ContextError> {
        // Acquire pairs with the Release store in `end`: whoever sees the error sees
        // what the canceller did before cancelling.
        ContextError::from_code(self.err.load(Ordering::Acquire))
    }

    fn is_done(&self) -> bool {
        self.err().is_some()
    }

    fn done(&self) -> &Receiver<()> {
        if let Some(rx) = self.done.get() {
            return rx;
        }
        let mut inner = self.inner.lock();
        self.done.get_or_init(|| {
            if self.is_done() {
                closed()
            } else {
                let (tx, rx) = bounded(0);
                inner.done_tx = Some(tx);
                rx
            }
        })
    }

    /// Puts `child` in this node's slab. `Err` with this node's error if it has ended:
    /// then the child must start ended.
    fn adopt(&self, child: &Arc<Node>) -> Result<(), ContextError> {
        let mut inner = self.inner.lock();
        if let Some(err) = self.err() {
            return Err(err);
        }
        let slot = inner.children.insert(Arc::downgrade(child));
        // Parent, then child: the one place two node locks nest.
        child.inner.lock().slot = Some(slot);
        Ok(())
    }

    /// Takes the child in `slot` out, unless this node has ended (and emptied its slab).
    fn remove_child(&self, slot: usize) {
        let mut inner = self.inner.lock();
        if !self.is_done() {
            inner.children.remove(slot);
        }
    }

    /// Ends this node and its subtree with `err` (the steps in the file's header).
    fn end(&self, err: ContextError, ender: Ender) {
        let Some((children, slot)) = self.end_one(err) else {
            return;
        };
        if ender == Ender::Own
            && let (Some(slot), Some(parent)) = (slot, &self.parent)
        {
            parent.remove_child(slot);
        }
        let mut work = children;
        while let Some(child) = work.pop() {
            if let Some(child) = child.upgrade()
                && let Some((grandchildren, _)) = child.end_one(err)
            {
                work.extend(grandchildren);
            }
        }
    }

    /// Steps 1 and 2 for this node alone: `None` if it had ended already, else its
    /// children and its slot in its parent.
    fn end_one(&self, err: ContextError) -> Option<(Vec<Weak<Node>>, Option<usize>)> {
        let (children, tx, slot) = {
            let mut inner = self.inner.lock();
            if self.is_done() {
                return None;
            }
            // Release pairs with the Acquire in `err()`.
            self.err.store(err.code(), Ordering::Release);
            (
                inner.children.take_all(),
                inner.done_tx.take(),
                inner.slot.take(),
            )
        };
        // Outside the lock: closing wakes every receiver, which may take a while, and
        // a woken receiver may come straight back to this node.
        if let Some(tx) = tx {
            tx.close();
        }
        Some((children, slot))
    }
}

impl deadline::Expire for Node {
    fn expire(&self) {
        self.end(ContextError::DeadlineExceeded, Ender::Own);
    }

    fn is_done(&self) -> bool {
        Node::is_done(self)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Leave the parent's slab; if this held the parent's last reference, the parent
        // goes too, and leaves its own parent, and so on: in a loop, because dropping
        // `Arc`s recursively would overflow the stack on a long chain of contexts.
        let mut parent = self.parent.take();
        let mut slot = self.inner.get_mut().slot.take();
        while let Some(p) = parent {
            if let Some(slot) = slot {
                p.remove_child(slot);
            }
            let Some(mut node) = Arc::into_inner(p) else {
                break;
            };
            parent = node.parent.take();
            slot = node.inner.get_mut().slot.take();
            // `node` drops here, with nothing left for its own `drop` to do upwards.
        }
    }
}

/// A closed channel, shared by every context that ended before its `done()` was asked.
fn closed() -> Receiver<()> {
    static CLOSED: OnceLock<Receiver<()>> = OnceLock::new();
    CLOSED
        .get_or_init(|| {
            let (tx, rx) = bounded(0);
            tx.close();
            rx
        })
        .clone()
}

/// Weak references to children, in slots reused through a free list threaded through
/// the vacant ones.
struct Slab {
    slots: Vec<Slot>,
    /// The first vacant slot, or `NONE`.
    vacant: usize,
    len: usize,
}

enum Slot {
    Child(Weak<Node>),
    /// The next vacant slot, or `NONE`.
    Vacant(usize),
}

const NONE: usize = usize::MAX;

/// Slots an empty slab keeps allocated, at most.
const KEEP: usize = 64;

impl Default for Slab {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            vacant: NONE,
            len: 0,
        }
    }
}

impl Slab {
    fn len(&self) -> usize {
        self.len
    }

    fn insert(&mut self, child: Weak<Node>) -> usize {
        self.len += 1;
        match self.vacant {
            NONE => {
                self.slots.push(Slot::Child(child));
                self.slots.len() - 1
            }
            i => {
                let Slot::Vacant(next) = std::mem::replace(&mut self.slots[i], Slot::Child(child))
                else {
                    unreachable!("gogreen: fatal: a context's free list points at a child");
                };
                self.vacant = next;
                i
            }
        }
    }

    fn remove(&mut self, i: usize) {
        debug_assert!(matches!(self.slots[i], Slot::Child(_)));
        self.slots[i] = Slot::Vacant(self.vacant);
        self.vacant = i;
        self.len -= 1;
        if self.len == 0 {
            // Every slot is vacant: start over, and give back what a crowd of children
            // that has gone made the slab grow to.
            self.slots.clear();
            self.slots.shrink_to(KEEP);
            self.vacant = NONE;
        }
    }

    fn take_all(&mut self) -> Vec<Weak<Node>> {
        self.len = 0;
        self.vacant = NONE;
        std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(|s| match s {
                Slot::Child(c) => Some(c),
                Slot::Vacant(_) => None,
            })
            .collect()
    }
}
