import SluiceSupport

/// Starts the ``Notifier``'s delivery thread.
///
/// The entry point is a plain top-level function in an ordinary file (not `main.swift`), so it
/// is not isolated to the main actor and may run on a thread of its own.
enum NotifierThread {
    /// Spawns a detached thread running `notifier.runLoop()`; false if it could not start.
    static func spawn(_ notifier: Notifier) -> Bool {
        DetachedThread.spawn(notifierThreadMain, context: notifier)
    }
}

/// Thread entry: takes back the reference `DetachedThread.spawn` retained and serves the queue.
private func notifierThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let notifier = Unmanaged<Notifier>.fromOpaque(arg!).takeRetainedValue()
    notifier.runLoop()
    return nil
}
