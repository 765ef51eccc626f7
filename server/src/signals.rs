//! Waiting for SIGINT or SIGTERM on a blocking main thread.
//!
//! The signals are blocked in the calling thread before any other thread starts, so every
//! thread (the engine's executors included) inherits the mask and the signals stay pending
//! until `sigwait` takes them: no handler runs in an arbitrary thread.

/// SIGINT and SIGTERM, blocked in this thread (and the threads it starts later).
pub struct Termination {
    set: libc::sigset_t,
}

impl Termination {
    /// Blocks SIGINT and SIGTERM. Call before starting threads.
    pub fn block() -> std::io::Result<Termination> {
        // SAFETY: sigemptyset/sigaddset initialise and fill a sigset_t we own;
        // zeroed memory is a valid starting value for the plain-data sigset_t.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, exclusively borrowed sigset_t.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        Ok(Termination { set })
    }

    /// Waits for one of the signals and returns its name.
    pub fn wait(&self) -> std::io::Result<&'static str> {
        let mut signal: libc::c_int = 0;
        // SAFETY: `self.set` is initialised and `signal` is a valid out pointer.
        let rc = unsafe { libc::sigwait(&self.set, &mut signal) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        Ok(match signal {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "another signal",
        })
    }
}
