import Glibc

/// Starts detached POSIX threads whose entry point is a plain `@convention(c)` function: every thread
/// off the data plane (admin, fleet, watch, notifier, demo servers and traffic) starts here.
///
/// The entry receives an opaque pointer to `context`, retained once: the entry must balance it with
/// `Unmanaged<T>.fromOpaque(arg!).takeRetainedValue()`. The new thread starts with SIGHUP, SIGINT,
/// SIGTERM and SIGPIPE blocked, so process-directed signals reach the thread that waits for them
/// (Sluice's supervisor) and never kill the process through a helper thread. Nobody joins a detached
/// thread: an owner that must wait for one to end (a `stop()`) waits for a flag the thread sets last.
public enum DetachedThread {
    /// The C signature of a thread entry point.
    public typealias Entry = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?

    /// Stack of a helper thread unless the caller asks otherwise: enough for a blocking client loop.
    public static let defaultStackBytes = 512 * 1024

    /// Starts a detached thread running `entry` with `context` retained; returns the errno of
    /// `pthread_create` if it could not start (the retain is then released), nil once it runs.
    /// `stackBytes` nil keeps the system's default stack (`ulimit -s`, 8 MiB on most Linux systems).
    @discardableResult
    public static func start(_ entry: Entry, context: AnyObject, stackBytes: Int? = defaultStackBytes) -> Int32? {
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
        if let stackBytes { pthread_attr_setstacksize(&attr, stackBytes) }
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, entry, arg)
        if rc != 0 {
            Unmanaged<AnyObject>.fromOpaque(arg).release()
            return rc
        }
        return nil
    }

    /// ``start(_:context:stackBytes:)`` with the default stack; false if the thread could not start.
    @discardableResult
    public static func spawn(_ entry: Entry, context: AnyObject) -> Bool {
        start(entry, context: context) == nil
    }
}
