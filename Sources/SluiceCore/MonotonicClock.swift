import Glibc

/// Monotonic time in nanoseconds, the only clock the data plane uses.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary origin (CLOCK_MONOTONIC, vDSO: no syscall).
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Wall-clock seconds since the Unix epoch, for event timestamps shown to operators.
    public static func wallSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
