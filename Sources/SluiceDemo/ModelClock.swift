import Glibc

/// Monotonic time for latency measurements.
enum ModelClock {
    /// Microseconds since an arbitrary fixed point (CLOCK_MONOTONIC).
    static func nowMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1000
    }

    /// Sleeps `micros` microseconds (longer than usleep's range is split).
    static func sleep(micros: UInt64) {
        var left = micros
        while left > 0 {
            let step = min(left, 1_000_000)
            usleep(UInt32(step))
            left -= step
        }
    }
}
