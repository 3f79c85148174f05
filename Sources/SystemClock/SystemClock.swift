#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The package's one clock: every target that times, timestamps or measures reads it here.
// A separate target with no dependencies, so the lowest users (MultiRaft's host and storage,
// the linearizability checker) can import it without pulling in RESP or networking; the pure
// Raft core does not read clocks at all (it is driven by ticks).

/// Nanoseconds of the monotonic clock (`CLOCK_MONOTONIC`): for durations and deadlines.
@inlinable
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Seconds of the monotonic clock: for durations and deadlines.
@inlinable
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Milliseconds since the Unix epoch (`CLOCK_REALTIME`): for timestamps others read, such as
/// key expiry times.
@inlinable
public func wallClockMillis() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}
