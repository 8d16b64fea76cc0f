import Glibc

/// Starts detached POSIX threads whose entry point is a plain `@convention(c)` function.
///
/// The entry receives an opaque pointer to `context`, retained once: the entry must balance it with
/// `Unmanaged<T>.fromOpaque(arg!).takeRetainedValue()`. The new thread starts with SIGHUP, SIGINT,
/// SIGTERM and SIGPIPE blocked, so process-directed signals reach the thread that waits for them
/// (Sluice's supervisor) and never kill the process through a helper thread.
public enum DetachedThread {
    /// The C signature of a thread entry point.
    public typealias Entry = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?

    /// Starts a detached thread running `entry` with `context` retained; returns false if it could not start
    /// (the retain is then released).
    @discardableResult
    public static func spawn(_ entry: Entry, context: AnyObject) -> Bool {
        let arg = Unmanaged.passRetained(context).toOpaque()
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for s in [SIGHUP, SIGINT, SIGTERM, SIGPIPE] { sigaddset(&blocked, s) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }

        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, 512 * 1024)
        var thread = pthread_t()
        if pthread_create(&thread, &attr, entry, arg) != 0 {
            Unmanaged<AnyObject>.fromOpaque(arg).release()
            return false
        }
        return true
    }
}
