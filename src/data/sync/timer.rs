//! The single retry timer the sync core asks for (`ScheduleRetry`): arming it again replaces
//! the armed one, so at most one retry is ever pending.

use std::cell::RefCell;

use gloo_timers::callback::Timeout;

/// A one-shot timer slot.
#[derive(Default)]
pub struct RetryTimer {
    armed: RefCell<Option<Timeout>>,
}

impl RetryTimer {
    /// Arms the timer to call `fire` after `after_ms`, cancelling any armed one.
    pub fn arm(&self, after_ms: u64, fire: impl FnOnce() + 'static) {
        // Browsers treat delays above i32::MAX ms as 0: clamp, never fire at once.
        let ms = u32::try_from(after_ms.min(i32::MAX as u64)).unwrap_or(i32::MAX as u32);
        let previous = self.armed.borrow_mut().replace(Timeout::new(ms, fire));
        if let Some(previous) = previous {
            previous.cancel();
        }
    }

    /// Cancels the armed timer, if any.
    pub fn cancel(&self) {
        if let Some(previous) = self.armed.borrow_mut().take() {
            previous.cancel();
        }
    }
}
