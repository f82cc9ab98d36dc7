//! What a unit of work writes through: the SQLite writer and the audit chains' linker of the
//! database whose work this thread is running.
// why: workflows take a `&mut DbConnection` and call `write_transaction` on it; `Db::run` names the
// writer and the linker for the unit of work it runs, so no workflow needs to know about them. Code
// run outside a scope (the CLI, start-up, tests on a bare connection) writes on its own connection
// and links in its own transaction.

use std::cell::RefCell;
use std::sync::Arc;

use super::linker::Linker;
use super::writer::Writer;

/// The writer and linker in force for the work on this thread.
#[derive(Clone, Default)]
pub(super) struct Handles {
    pub(super) writer: Option<Arc<Writer>>,
    pub(super) linker: Option<Arc<Linker>>,
}

thread_local! {
    static CURRENT: RefCell<Handles> = RefCell::new(Handles::default());
}

/// While alive, `write_transaction` on this thread goes through these handles.
pub(super) struct Scope {
    previous: Handles,
}

impl Scope {
    pub(super) fn enter(handles: Handles) -> Self {
        Self { previous: CURRENT.with(|current| current.replace(handles)) }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = std::mem::take(&mut self.previous);
        CURRENT.with(|current| current.replace(previous));
    }
}

/// The writer in scope on this thread, if any.
pub(super) fn writer() -> Option<Arc<Writer>> {
    CURRENT.with(|current| current.borrow().writer.clone())
}

/// The linker in scope on this thread, if any.
pub(super) fn linker() -> Option<Arc<Linker>> {
    CURRENT.with(|current| current.borrow().linker.clone())
}
